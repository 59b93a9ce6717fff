"""Reviews and NPS: a request after a purchase, the member's score and comment, the merchant's
answer in a dialog, quality per cashier and store (FBK-1 … FBK-3)."""
