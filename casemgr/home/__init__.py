"""Each role's home page: the work list for that role."""
