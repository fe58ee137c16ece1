"""Imports every feature's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from service.alarms.tables import Alarm, AlarmBatch, AlarmEvent
from service.auth.tables import ApiKey, AuditEvent, User, UserSession
from service.baselines.tables import SensorBaseline
from service.batches.tables import Batch, Indicator
from service.components.tables import SensorGeometry
from service.db import Base
from service.jobs.tables import Job, JobEvent, SchedulerLease
from service.predictions.tables import Prediction
from service.registry.tables import ModelVersion
from service.turbines.tables import Sensor, Turbine

__all__ = ["Alarm", "AlarmBatch", "AlarmEvent", "ApiKey", "AuditEvent", "Base", "Batch",
           "Indicator", "Job", "JobEvent", "ModelVersion", "Prediction", "SchedulerLease", "Sensor",
           "SensorBaseline", "SensorGeometry", "Turbine", "User", "UserSession"]
