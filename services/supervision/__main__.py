from services.supervision.bootstrap import ABOUT, bootstrap
from zhixing.service import run_service

run_service(ABOUT.name, bootstrap)
