"""The sites (facilities) of a treatment network: where an episode is treated, where staff
work, and so which detox board, census and charts each site's staff see."""
