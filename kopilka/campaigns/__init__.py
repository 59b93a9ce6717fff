"""Secret-code campaigns (CMP-1): batches of printed codes kept only as keyed hashes, activated
on the wallet, by a QR link or by SMS; targeted offers to a saved segment (CMP-4); promo codes
that switch a rule on for one purchase."""
