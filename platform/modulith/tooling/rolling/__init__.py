"""The rolling flip: extracting a module into its own service, or merging it back, step by
step while both keep serving (`steps`), and whether each step may start
(`settled`)."""

from modulith.tooling.rolling.steps import Deployment, RollingPlan, RollingStep, rolling_plan

__all__ = ["Deployment", "RollingPlan", "RollingStep", "rolling_plan"]
