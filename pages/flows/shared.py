"""What the tabs of /flows share: the model menus (shipped RealNVPs and flow-matching models, plus this browser's
own) and the toy sets they cover."""
from __future__ import annotations

from playground.data.toy2d import TOY2D_TITLES
from playground.flows import REFLOW_TOYS
from playground.recipes import FLOW_TOYS

from ..common import ModelMenu

REALNVP_MENU = ModelMenu({f"realnvp-{name}": f"RealNVP · {TOY2D_TITLES[name]} (shipped)" for name in FLOW_TOYS})
FM_POINTS_MENU = ModelMenu({**{f"fm-{name}": f"flow matching · {TOY2D_TITLES[name]} (shipped)" for name in FLOW_TOYS},
                            **{f"fm-{name}-reflow": f"flow matching reflowed once · {TOY2D_TITLES[name]} (shipped)"
                               for name in REFLOW_TOYS}})
FM_FASHION = "fm-fashion"
DATASET_TITLES = {**TOY2D_TITLES, "fashion": "Fashion-MNIST"}
