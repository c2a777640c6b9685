from services.audit_notary.bootstrap import NAME, bootstrap
from zhixing.service import run_service

run_service(NAME, bootstrap)
