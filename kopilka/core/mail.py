"""The console mail transport of development and the demo (no KOPILKA_EMAIL_HOST).

Django's console backend prints a mail as it would be sent. Python's email library sends a
text with long non-ASCII lines — any Russian or Ukrainian mail — base64-encoded, which the
person reading the `kopilka up` console (an invitation's key, a billing notice) cannot read.
This backend prints a one-part text mail with its headers in their order, decoded, and its
text as 8-bit UTF-8; anything else (a mail with attachments) as Django prints it.
"""

from django.core.mail.backends import console


class EmailBackend(console.EmailBackend):
    def write_message(self, message):
        mail = message.message()
        encoding = mail.get("Content-Transfer-Encoding")
        if mail.is_multipart() or mail.get_content_maintype() != "text" or encoding not in (
                "base64", "quoted-printable"):
            return super().write_message(message)
        headers = "".join(f"{name}: {value}\n" for name, value in mail.items()
                          if name.lower() != "content-transfer-encoding")
        self.stream.write(f"{headers}Content-Transfer-Encoding: 8bit\n\n{mail.get_content()}\n")
        self.stream.write("-" * 79)
        self.stream.write("\n")
