"""Diffusion: noise schedules, the forward process q, samplers, guidance, and the noise-aware classifier."""
from .schedules import SCHEDULE_CITATIONS, SCHEDULES, Schedule, make_schedule
from .forward import closed_form_vs_iterated, noising_trajectory
from .samplers import ClassifierFree, ClassifierGuidance, Step, denoise_steps, sample
from .classifier import NoisyClassifierSpec

__all__ = ["SCHEDULES", "SCHEDULE_CITATIONS", "Schedule", "make_schedule", "closed_form_vs_iterated", "noising_trajectory",
           "ClassifierFree", "ClassifierGuidance", "Step", "denoise_steps", "sample", "NoisyClassifierSpec"]
