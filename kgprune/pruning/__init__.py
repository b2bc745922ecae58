"""Units, gates, importance, plans, surgery and the iterative schedule."""
