"""Treatment episodes: admission, phases, levels of care, caseloads and discharge."""
