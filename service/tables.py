"""Imports every feature's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from service.alarms.tables import Alarm, AlarmBatch, AlarmEvent
from service.auth.tables import ApiKey, AuditEvent, User, UserSession
from service.baselines.tables import SensorBaseline
from service.batches.tables import Batch, Indicator
from service.components.tables import SensorGeometry
from service.db import Base
from service.predictions.tables import Prediction
from service.registry.tables import ModelVersion
from service.turbines.tables import Sensor, Turbine

__all__ = ["Alarm", "AlarmBatch", "AlarmEvent", "ApiKey", "AuditEvent", "Base", "Batch",
           "Indicator", "ModelVersion", "Prediction", "Sensor", "SensorBaseline", "SensorGeometry", "Turbine", "User", "UserSession"]
