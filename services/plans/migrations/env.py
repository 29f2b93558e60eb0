from services.common.migrate import run_env
from services.plans.models import Base

run_env(Base.metadata, "plans")
