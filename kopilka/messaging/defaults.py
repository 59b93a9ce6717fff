"""The texts every merchant starts with: one per MSG-1 event and language.

A merchant's `Template` row overrides them (messaging/services.py). The same text serves SMS
and email; email also takes the subject. The texts are data, not gettext strings: they are
rendered in the *member's* language, whatever language the code runs in, and a merchant edits
them as a whole.

SMS texts are kept within one UCS-2 part (70 characters) where the figures allow: Cyrillic
cannot use the 160-character GSM alphabet, and every extra part is paid for.
"""

# event -> language -> (subject, body)
DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    "registration": {
        "ru": ("Добро пожаловать", "{name}, вы в программе {merchant}! Баланс: {balance}. {link}"),
        "uk": ("Ласкаво просимо", "{name}, ви в програмі {merchant}! Баланс: {balance}. {link}"),
        "en": ("Welcome", "{name}, welcome to {merchant}! Balance: {balance}. {link}"),
    },
    "first_purchase": {
        "ru": ("Спасибо за первую покупку",
               "{name}, спасибо за первую покупку! Начислено {points}. Баланс: {balance}."),
        "uk": ("Дякуємо за першу покупку",
               "{name}, дякуємо за першу покупку! Нараховано {points}. Баланс: {balance}."),
        "en": ("Thank you for your first purchase",
               "{name}, thank you for your first purchase! You got {points}. "
               "Balance: {balance}."),
    },
    "accrual": {
        "ru": ("Начисление", "{merchant}: +{points} за покупку на {amount}. "
                             "Баланс: {balance}"),
        "uk": ("Нарахування", "{merchant}: +{points} за покупку на {amount}. "
                              "Баланс: {balance}"),
        "en": ("Added to your balance", "{merchant}: +{points} for your {amount} purchase. "
                                        "Balance: {balance}"),
    },
    "redemption": {
        "ru": ("Списание", "{merchant}: списано {points}. Баланс: {balance}"),
        "uk": ("Списання", "{merchant}: списано {points}. Баланс: {balance}"),
        "en": ("Spent from your balance", "{merchant}: {points} spent. Balance: {balance}"),
    },
    "referral_accrual": {
        "ru": ("Бонус за друга", "{merchant}: +{points} за покупку друга. Баланс: {balance}"),
        "uk": ("Бонус за друга", "{merchant}: +{points} за покупку друга. Баланс: {balance}"),
        "en": ("A friend's purchase", "{merchant}: +{points} for a friend's purchase. "
                                      "Balance: {balance}"),
    },
    "gift": {
        "ru": ("Подарок", "{name}, {merchant} дарит вам {points} до {date}"),
        "uk": ("Подарунок", "{name}, {merchant} дарує вам {points} до {date}"),
        "en": ("A gift", "{name}, {merchant} gives you {points}, valid until {date}"),
    },
    "transfer": {
        "ru": ("Вам передали баллы", "{merchant}: вам передали {points}. Баланс: {balance}"),
        "uk": ("Вам передали бали", "{merchant}: вам передали {points}. Баланс: {balance}"),
        "en": ("Points received", "{merchant}: you received {points}. Balance: {balance}"),
    },
    "expiry_soon": {
        "ru": ("Срок действия истекает", "{name}, {date} сгорят {points}. "
                                         "Ждём вас в {merchant}!"),
        "uk": ("Термін дії спливає", "{name}, {date} згорять {points}. "
                                     "Чекаємо на вас у {merchant}!"),
        "en": ("Expiring soon", "{name}, {points} expire on {date}. See you at {merchant}!"),
    },
    "activation": {
        "ru": ("Начисление доступно", "{merchant}: {points} теперь доступны. Баланс: {balance}"),
        "uk": ("Нарахування доступне", "{merchant}: {points} тепер доступні. Баланс: {balance}"),
        "en": ("Now available", "{merchant}: {points} are now available. Balance: {balance}"),
    },
    "tier_change": {
        "ru": ("Новый уровень", "{name}, ваш уровень в {merchant}: {tier}"),
        "uk": ("Новий рівень", "{name}, ваш рівень у {merchant}: {tier}"),
        "en": ("New tier", "{name}, your tier at {merchant} is now {tier}"),
    },
    "birthday": {
        "ru": ("С днём рождения!", "{name}, с днём рождения! {merchant} дарит {points} "
                                   "до {date}"),
        "uk": ("З днем народження!", "{name}, з днем народження! {merchant} дарує {points} "
                                     "до {date}"),
        "en": ("Happy birthday!", "Happy birthday, {name}! {merchant} gives you {points}, "
                                  "valid until {date}"),
    },
    "relative_birthday": {
        "ru": ("Праздник в семье", "{name}, у ваших близких праздник! {merchant} дарит {points} "
                                   "до {date}"),
        "uk": ("Свято в родині", "{name}, у ваших рідних свято! {merchant} дарує {points} "
                                 "до {date}"),
        "en": ("A family celebration", "{name}, someone dear to you has a birthday! {merchant} "
                                       "gives you {points}, valid until {date}"),
    },
    "review_request": {
        "ru": ("Как вам покупка?", "{name}, оцените покупку в {merchant}: {link}"),
        "uk": ("Як вам покупка?", "{name}, оцініть покупку в {merchant}: {link}"),
        "en": ("How was your purchase?", "{name}, please rate your visit to {merchant}: {link}"),
    },
    # The shop answered the member's review: a single-use link to the dialog (feedback).
    "review_answer": {
        "ru": ("Ответ на ваш отзыв", "{merchant}: ответ на ваш отзыв {link}"),
        "uk": ("Відповідь на ваш відгук", "{merchant}: відповідь на ваш відгук {link}"),
        "en": ("An answer to your review", "{merchant} answered your review: {link}"),
    },
    "one_time_code": {
        "ru": ("Код подтверждения", "{merchant}: код {code}. Никому его не сообщайте."),
        "uk": ("Код підтвердження", "{merchant}: код {code}. Нікому його не повідомляйте."),
        "en": ("Confirmation code", "{merchant}: your code is {code}. Do not share it."),
    },
    # The wallet's single-use sign-in link, sent when the member asks at the counter (MSG-2).
    "card_link": {
        "ru": ("Ваша карта", "{merchant}: ваша карта и баллы {link}"),
        "uk": ("Ваша картка", "{merchant}: ваша картка і бали {link}"),
        "en": ("Your card", "{merchant}: your card and points {link}"),
    },
    # A member's invitation to a friend (referrals, CMP-3): the join link with their code.
    "invitation": {
        "ru": ("Приглашение", "{name} приглашает вас в {merchant}: {link}"),
        "uk": ("Запрошення", "{name} запрошує вас до {merchant}: {link}"),
        "en": ("An invitation", "{name} invites you to {merchant}: {link}"),
    },
    # A targeted offer to a segment (campaigns, CMP-4); the offer usually brings its own text.
    "offer": {
        "ru": ("Предложение для вас", "{name}, {merchant} дарит вам {points} до {date}."),
        "uk": ("Пропозиція для вас", "{name}, {merchant} дарує вам {points} до {date}."),
        "en": ("An offer for you", "{name}, {merchant} gives you {points} until {date}."),
    },
}
