"""Moving records in and out: the client CSV import and the census export."""
