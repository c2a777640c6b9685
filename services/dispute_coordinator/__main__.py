from services.dispute_coordinator.bootstrap import NAME, bootstrap
from zhixing.service import run_service

run_service(NAME, bootstrap)
