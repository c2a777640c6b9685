from services.supervision.bootstrap import ABOUT, bootstrap
from zhixing.builder import run_service

run_service(ABOUT.name, bootstrap)
