"""The reward catalogue (CMP-2): items priced in points; a member's order holds the points
until the cashier hands the item over (then they are spent) or the order lapses."""
