"""Clinical sessions, progress notes, signatures, co-signatures and addenda."""
