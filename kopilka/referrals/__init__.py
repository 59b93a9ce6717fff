"""Referrals (CMP-3): personal codes and links, the newcomer's gift, the referrer's reward
(one level or several) written in the sale's own transaction, reversed by refunds;
invite-only programs."""
