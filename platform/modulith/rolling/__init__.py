"""The rolling flip: extracting a module into its own service, or merging it back, step by
step while both keep serving (`steps`), and the readiness check before each step."""

from modulith.rolling.steps import Deployment, RollingPlan, RollingStep, rolling_plan

__all__ = ["Deployment", "RollingPlan", "RollingStep", "rolling_plan"]
