"""The load test itself: a few students for a few seconds against a fresh app on 127.0.0.1, with no errors, and
every figure it promises reported."""
from playground import loadtest


def test_a_short_class_runs_without_errors_and_reports_its_figures():
    frame = "forward: let go of the t slider (exact frame)"
    figures = loadtest.run(students=3, seconds=4, actions=[frame, "forward: 2D cloud at t"], disk_every=1.0)
    assert figures["cold_start_s"] > 0 and figures["peak_rss_mb"] > 0 and figures["temp_growth_mb"] < 50
    done = figures["actions"][frame]
    assert done["count"] >= 3 and done["errors"] == 0, done
    assert done["p50_s"] <= done["p95_s"] <= done["max_s"] < 60
    assert figures["actions"]["forward: 2D cloud at t"]["errors"] == 0
    growth = figures["temp_growth_mb_by_minute"]  # here sampled every second: 3 or 4 samples in 4 s
    assert 3 <= len(growth) <= 5 and all(0 <= mb < 50 for mb in growth), growth


def test_bounds_are_checked():
    import pytest
    with pytest.raises(ValueError, match="students"):
        loadtest.run(students=10_000, seconds=1)
    with pytest.raises(ValueError, match="pause"):
        loadtest.run(students=1, seconds=1, pause=-1)


def test_every_action_matches_an_endpoint_of_the_app(server_url):
    """The simulated class calls the app's real endpoints with the arguments they take (checked without load)."""
    import numpy as np
    from gradio_client import Client

    api = Client(server_url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    pages = {name.split(":")[0] for name in loadtest.ACTIONS}
    assert pages >= {"forward", "reverse", "autoencoders", "vq", "gan", "guidance", "flows", "clip", "text to image",
                     "dalle"}
    for name, (api_name, make_args, weight) in loadtest.ACTIONS.items():
        assert api_name in api, name
        given, parameters = make_args(np.random.default_rng(0)), api[api_name]["parameters"]
        assert len(given) <= len(parameters), name
        assert all(p["parameter_has_default"] for p in parameters[len(given):]), name  # the rest take defaults
        assert weight > 0
