"""What every page shares: server-side checks and user-facing errors, per-browser state, shipped models and
the model menu, the one training panel, image pickers, modality views, and the page frame (about, Next).

Nothing here holds what a user made: that lives in each browser session's gr.State (see `session`)."""
from .checks import MAX_SEED, check_choice, check_float, check_int, check_seed, quoted, user_errors
from .jobs import (CHEAP, EXPENSIVE, MAX_IMAGE_STEPS, SAMPLING, SAMPLING_EVENTS, TORCH_THREADS, check_cost, export_path,
                   waiting_text)
from .layout import LATEX, about, findings, next_link, set_journey
from .models import ModelMenu, metric_classifier, real_data, shipped
from .pickers import image_picker, pick_image, upload_path
from .session import MAX_RUNS, MAX_USER_MODELS, lookup, remember, session_state, throttle
from .train_panel import TrainJob, TrainPanel, TrainUpdate, keep_stopped, run_job
from .views import ImageView, PointsView, view_for

__all__ = ["LATEX", "CHEAP", "EXPENSIVE", "MAX_IMAGE_STEPS", "check_cost", "SAMPLING", "SAMPLING_EVENTS", "waiting_text", "TORCH_THREADS", "export_path", "MAX_SEED", "check_choice", "check_float", "check_int", "check_seed", "quoted", "user_errors", "set_journey",
           "about", "findings", "next_link", "ModelMenu", "metric_classifier", "real_data", "shipped", "image_picker",
           "pick_image", "upload_path", "MAX_RUNS", "MAX_USER_MODELS", "lookup", "remember", "session_state",
           "throttle", "TrainJob", "TrainPanel", "TrainUpdate", "keep_stopped", "run_job", "ImageView", "PointsView",
           "view_for"]
