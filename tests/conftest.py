"""Hypothesis profiles: "dev" (fast, the default) and "ci" (reproducible, loaded when $CI is set).

Select one by hand with `pytest --hypothesis-profile=ci`.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, derandomize=True, max_examples=60,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
