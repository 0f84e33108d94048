"""Diffusion: noise schedules, the forward process q, and (later) samplers and guidance."""
from .schedules import SCHEDULE_CITATIONS, SCHEDULES, Schedule, make_schedule
from .forward import closed_form_vs_iterated, noising_trajectory

__all__ = ["SCHEDULES", "SCHEDULE_CITATIONS", "Schedule", "make_schedule", "closed_form_vs_iterated", "noising_trajectory"]
