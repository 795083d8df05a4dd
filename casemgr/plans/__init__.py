"""Treatment plans: problems, goals, objectives, interventions, signed versions."""
