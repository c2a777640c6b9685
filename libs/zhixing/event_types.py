"""Every event type of the platform and the aggregate (so the topic) it belongs to: the one
registry ``zhixing.events`` decodes with. A new event is a message in ``protos/zhixing/v1``
and its line here."""

from __future__ import annotations

from zhixing.events import register_event
from zhixing.v1 import (
    asset_events_pb2,
    audit_events_pb2,
    case_events_pb2,
    command_events_pb2,
    credit_events_pb2,
    deadline_events_pb2,
    dispute_events_pb2,
    entrustment_events_pb2,
    funds_events_pb2,
    notification_events_pb2,
    supervision_events_pb2,
)

__all__ = [
    "ACCESS_RECORDED",
    "AGENCY_DISPUTE_REPORTED_TO_SUPERIOR",
    "AGENCY_NEGOTIATION_FAILED",
    "APPLICANT_INTERVIEWED",
    "APPLICATION_RECEIVED",
    "APPRAISAL_ENDED",
    "APPRAISAL_STARTED",
    "ASSETS_PUSHED_TO_PARTIES",
    "ASSET_CONTROLLED",
    "ASSET_COURT_CHANGED",
    "ASSET_FOUND",
    "AUCTION_ENDED",
    "AUCTION_STARTED",
    "AUDIT_CHECKPOINT",
    "AUDIT_RECORDS_APPENDED",
    "CALENDAR_HORIZON_REACHED",
    "CASE_ACCOUNT_OPENED",
    "CASE_CLOSED",
    "CASE_CONVERTED",
    "CASE_FILED",
    "CASE_HANDLING_COURT_CHANGED",
    "CASE_NUMBER_ISSUED",
    "CASE_QUERY_CODE_ISSUED",
    "CASE_RESUMED",
    "CASE_SUSPENDED",
    "CASE_TRIAGED",
    "CHANNEL_QUERY_ANSWERED",
    "CHANNEL_QUERY_FAILED",
    "CLOCKS_OPENED",
    "CLOCK_BREACHED",
    "CLOCK_CLEARED",
    "CLOCK_ESCALATED",
    "CLOCK_EXTENDED",
    "CLOCK_EXTENSION_REFUSED",
    "CLOCK_EXTENSION_REQUESTED",
    "CLOCK_MOVED",
    "CLOCK_OPENED",
    "CLOCK_PAUSED",
    "CLOCK_RECOMPUTED",
    "CLOCK_RESUMED",
    "CLOCK_WARNED",
    "COMMAND_ACKNOWLEDGED",
    "COMMAND_ISSUED",
    "COMMAND_RECONSIDERATION_ANSWERED",
    "COMMAND_RECONSIDERATION_REQUESTED",
    "CONTROL_DECLINED",
    "CONTROL_FAILED",
    "CONTROL_LAPSED",
    "CONTROL_RELEASED",
    "CONTROL_RENEWED",
    "CONTROL_REQUESTED",
    "CONTROL_TOOK_EFFECT_AFTER_FAILURE",
    "COORDINATION_PLAN_DELIVERED",
    "COORDINATION_PLAN_IMPLEMENTED",
    "COORDINATION_PLAN_ISSUED",
    "CORRECTION_REPORTED",
    "DEBTOR_LISTED",
    "DEBTOR_VISITED",
    "DEDUCTION_ANSWER_UNRECORDED",
    "DEDUCTION_FAILED",
    "DEDUCTION_REQUESTED",
    "DEDUCTION_REVIEWED",
    "DEPARTMENT_COORDINATION_STARTED",
    "DISPOSAL_TRANSFER_ANSWERED",
    "DISPOSAL_TRANSFER_REQUESTED",
    "DISPUTE_COORDINATION_ENDED",
    "DISPUTE_COORDINATION_STARTED",
    "DISPUTE_ESCALATED",
    "DISPUTE_FORWARDED",
    "DISPUTE_OPENED",
    "DISPUTE_REFERRED_TO_COMMON_SUPERIOR",
    "DISPUTE_SETTLED",
    "DOCKET_REFUSED",
    "ENFORCEMENT_DEFERRAL_ENDED",
    "ENFORCEMENT_DEFERRED",
    "ENFORCEMENT_STOP_LIFTED",
    "ENFORCEMENT_STOP_ORDERED",
    "ENTRUSTMENT_COMPLETED",
    "ENTRUSTMENT_COURT_CHANGED",
    "ENTRUSTMENT_ORDERED",
    "ENTRUSTMENT_ORDER_REQUESTED",
    "ENTRUSTMENT_RETURNED",
    "ENTRUSTMENT_STARTED",
    "ENTRUSTMENT_STATUS_REPORTED",
    "EXECUTION_NOTICE_SERVED",
    "EXECUTION_RESUMED",
    "FUNDS_ARRIVED",
    "FUNDS_HELD",
    "FUNDS_LODGED",
    "FUNDS_PAID",
    "FUNDS_RELEASED",
    "HOLD_REFUSED",
    "HOLD_REQUESTED",
    "INSTRUCTION_ANSWERED",
    "INSTRUCTION_REQUESTED",
    "INTERFERENCE_RECORDED",
    "LEAD_RECEIVED",
    "LEAD_VERIFICATION_STARTED",
    "LEAD_VERIFIED",
    "LISTING_DECLINED",
    "LISTING_DELETED",
    "LISTING_EXTENDED",
    "LISTING_EXTENSION_DECIDED",
    "LISTING_GROUND_ENDED",
    "MATTER_ENTRUSTED",
    "NEGOTIATION_FAILED",
    "NEGOTIATION_RECORDED",
    "NETWORK_QUERY_COMPLETED",
    "NETWORK_QUERY_STARTED",
    "NOTICE_ATTEMPT_FAILED",
    "NOTICE_DELIVERED",
    "NOTICE_QUEUED",
    "NOTICE_UNDELIVERED",
    "OBSTRUCTION_FOUND",
    "OFFICER_ASSIGNED",
    "OFFICER_POSTED",
    "OFFICER_ROTATED",
    "OVER_SEIZURE_EXCEPTION_APPROVED",
    "PAYMENT_DEFERRAL_APPROVED",
    "PAYMENT_DEFERRAL_ENDED",
    "PAYMENT_LODGED",
    "PAYMENT_NOTICE_ISSUED",
    "PETITION_ANSWERED",
    "PETITION_RECEIVED",
    "PETITION_REGISTERED",
    "PLAN_RECONSIDERATION_REQUESTED",
    "POLITICAL_COMMITTEE_REPORTED",
    "PUBLIC_NOTICE_ENDED",
    "PUBLIC_NOTICE_STARTED",
    "PUNISHMENT_IMPOSED",
    "QUERY_CHANNELS_ANSWERED",
    "RECEIVING_ACCOUNT_CHANGED",
    "RECEIVING_ACCOUNT_CHANGE_REFUSED",
    "RECEIVING_ACCOUNT_CHANGE_REQUESTED",
    "REFERENCE_PRICE_FIXED",
    "REFERENCE_PRICE_STARTED",
    "RESTRICTION_LIFTED",
    "RESTRICTION_LIFT_DUE",
    "RESTRICTION_ORDERED",
    "RESTRICTION_SERVED",
    "SALE_COMPLETED",
    "SALE_STARTED",
    "SEARCH_CONDUCTED",
    "SELF_DISPOSAL_COMPLETED",
    "SELF_DISPOSAL_PERMITTED",
    "SELF_DISPOSAL_REVOKED",
    "SUPERVISION_TASK_ANSWERED",
    "SUPERVISION_TASK_CLOSED",
    "SUPERVISION_TASK_ESCALATED",
    "SUPERVISION_TASK_OPENED",
    "URGENT_LEAD_RECEIVED",
    "URGE_REPLIED",
    "WAITING_SEIZURE_REGISTERED",
    "ZHONGBEN_OBJECTED",
    "ZHONGBEN_OBJECTION_DECIDED",
    "ZHONGBEN_PROPOSED",
    "ZHONGBEN_REFUSED",
    "ZHONGBEN_REQUERY_COMPLETED",
    "ZHONGBEN_REQUERY_PERIOD_ENDED",
    "ZHONGBEN_REQUERY_STARTED",
    "ZHONGBEN_REVOKED",
    "ZHONGBEN_RULED",
    "ZHONGBEN_RULING_SERVED",
]

AUDIT_RECORDS_APPENDED = register_event(audit_events_pb2.AuditRecordsAppended, "audit_records")
AUDIT_CHECKPOINT = register_event(audit_events_pb2.AuditCheckpoint, "audit_checkpoint")
ACCESS_RECORDED = register_event(audit_events_pb2.AccessRecorded, "access")
CASE_FILED = register_event(case_events_pb2.CaseFiled, "case")
APPLICATION_RECEIVED = register_event(case_events_pb2.ApplicationReceived, "case")
DOCKET_REFUSED = register_event(case_events_pb2.DocketRefused, "case")
CASE_NUMBER_ISSUED = register_event(case_events_pb2.CaseNumberIssued, "case")
OFFICER_ASSIGNED = register_event(case_events_pb2.OfficerAssigned, "case")
EXECUTION_NOTICE_SERVED = register_event(case_events_pb2.ExecutionNoticeServed, "case")
CASE_TRIAGED = register_event(case_events_pb2.CaseTriaged, "case")
CASE_CONVERTED = register_event(case_events_pb2.CaseConverted, "case")
CASE_CLOSED = register_event(case_events_pb2.CaseClosed, "case")
CASE_HANDLING_COURT_CHANGED = register_event(case_events_pb2.CaseHandlingCourtChanged, "case")
# 终本 and after (aggregate: case).
DEBTOR_VISITED = register_event(case_events_pb2.DebtorVisited, "case")
APPLICANT_INTERVIEWED = register_event(case_events_pb2.ApplicantInterviewed, "case")
OBSTRUCTION_FOUND = register_event(case_events_pb2.ObstructionFound, "case")
SEARCH_CONDUCTED = register_event(case_events_pb2.SearchConducted, "case")
PUNISHMENT_IMPOSED = register_event(case_events_pb2.PunishmentImposed, "case")
ZHONGBEN_PROPOSED = register_event(case_events_pb2.ZhongbenProposed, "case")
ZHONGBEN_REFUSED = register_event(case_events_pb2.ZhongbenRefused, "case")
ZHONGBEN_RULED = register_event(case_events_pb2.ZhongbenRuled, "case")
ZHONGBEN_RULING_SERVED = register_event(case_events_pb2.ZhongbenRulingServed, "case")
ZHONGBEN_OBJECTED = register_event(case_events_pb2.ZhongbenObjected, "case")
ZHONGBEN_OBJECTION_DECIDED = register_event(case_events_pb2.ZhongbenObjectionDecided, "case")
ZHONGBEN_REVOKED = register_event(case_events_pb2.ZhongbenRevoked, "case")
EXECUTION_RESUMED = register_event(case_events_pb2.ExecutionResumed, "case")

# Asset control (aggregate: asset; the id is the case asset, the lead, or for a case's
# network query the case).
NETWORK_QUERY_STARTED = register_event(asset_events_pb2.NetworkQueryStarted, "asset")
CHANNEL_QUERY_ANSWERED = register_event(asset_events_pb2.ChannelQueryAnswered, "asset")
QUERY_CHANNELS_ANSWERED = register_event(asset_events_pb2.QueryChannelsAnswered, "asset")
CHANNEL_QUERY_FAILED = register_event(asset_events_pb2.ChannelQueryFailed, "asset")
NETWORK_QUERY_COMPLETED = register_event(asset_events_pb2.NetworkQueryCompleted, "asset")
ASSET_FOUND = register_event(asset_events_pb2.AssetFound, "asset")
ASSETS_PUSHED_TO_PARTIES = register_event(asset_events_pb2.AssetsPushedToParties, "asset")
CONTROL_REQUESTED = register_event(asset_events_pb2.ControlRequested, "asset")
ASSET_CONTROLLED = register_event(asset_events_pb2.AssetControlled, "asset")
WAITING_SEIZURE_REGISTERED = register_event(asset_events_pb2.WaitingSeizureRegistered, "asset")
CONTROL_FAILED = register_event(asset_events_pb2.ControlFailed, "asset")
CONTROL_TOOK_EFFECT_AFTER_FAILURE = register_event(
    asset_events_pb2.ControlTookEffectAfterFailure, "asset"
)
CONTROL_DECLINED = register_event(asset_events_pb2.ControlDeclined, "asset")
CONTROL_RENEWED = register_event(asset_events_pb2.ControlRenewed, "asset")
CONTROL_RELEASED = register_event(asset_events_pb2.ControlReleased, "asset")
CONTROL_LAPSED = register_event(asset_events_pb2.ControlLapsed, "asset")
OVER_SEIZURE_EXCEPTION_APPROVED = register_event(
    asset_events_pb2.OverSeizureExceptionApproved, "asset"
)
LEAD_RECEIVED = register_event(asset_events_pb2.LeadReceived, "asset")
URGENT_LEAD_RECEIVED = register_event(asset_events_pb2.UrgentLeadReceived, "asset")
LEAD_VERIFICATION_STARTED = register_event(asset_events_pb2.LeadVerificationStarted, "asset")
LEAD_VERIFIED = register_event(asset_events_pb2.LeadVerified, "asset")
REFERENCE_PRICE_STARTED = register_event(asset_events_pb2.ReferencePriceStarted, "asset")
REFERENCE_PRICE_FIXED = register_event(asset_events_pb2.ReferencePriceFixed, "asset")
SALE_STARTED = register_event(asset_events_pb2.SaleStarted, "asset")
SALE_COMPLETED = register_event(asset_events_pb2.SaleCompleted, "asset")
SELF_DISPOSAL_PERMITTED = register_event(asset_events_pb2.SelfDisposalPermitted, "asset")
SELF_DISPOSAL_COMPLETED = register_event(asset_events_pb2.SelfDisposalCompleted, "asset")
SELF_DISPOSAL_REVOKED = register_event(asset_events_pb2.SelfDisposalRevoked, "asset")
ASSET_COURT_CHANGED = register_event(asset_events_pb2.AssetCourtChanged, "asset")
# Transfer of disposal to the priority creditor's court (aggregate id: the asset).
DISPOSAL_TRANSFER_REQUESTED = register_event(asset_events_pb2.DisposalTransferRequested, "asset")
DISPOSAL_TRANSFER_ANSWERED = register_event(asset_events_pb2.DisposalTransferAnswered, "asset")
# Re-query after 终本 (aggregate id: the case).
ZHONGBEN_REQUERY_STARTED = register_event(asset_events_pb2.ZhongbenRequeryStarted, "asset")
ZHONGBEN_REQUERY_COMPLETED = register_event(asset_events_pb2.ZhongbenRequeryCompleted, "asset")
ZHONGBEN_REQUERY_PERIOD_ENDED = register_event(asset_events_pb2.ZhongbenRequeryPeriodEnded, "asset")

# Enforcement disputes (aggregate: dispute; the coordination start/end events carry the
# affected case's id, whose clock they pause).
DISPUTE_OPENED = register_event(dispute_events_pb2.DisputeOpened, "dispute")
ENFORCEMENT_STOP_ORDERED = register_event(dispute_events_pb2.EnforcementStopOrdered, "dispute")
ENFORCEMENT_STOP_LIFTED = register_event(dispute_events_pb2.EnforcementStopLifted, "dispute")
NEGOTIATION_RECORDED = register_event(dispute_events_pb2.NegotiationRecorded, "dispute")
DISPUTE_SETTLED = register_event(dispute_events_pb2.DisputeSettled, "dispute")
NEGOTIATION_FAILED = register_event(dispute_events_pb2.NegotiationFailed, "dispute")
AGENCY_NEGOTIATION_FAILED = register_event(dispute_events_pb2.AgencyNegotiationFailed, "dispute")
POLITICAL_COMMITTEE_REPORTED = register_event(
    dispute_events_pb2.PoliticalCommitteeReported, "dispute"
)
AGENCY_DISPUTE_REPORTED_TO_SUPERIOR = register_event(
    dispute_events_pb2.AgencyDisputeReportedToSuperior, "dispute"
)
DEPARTMENT_COORDINATION_STARTED = register_event(
    dispute_events_pb2.DepartmentCoordinationStarted, "dispute"
)
DISPUTE_ESCALATED = register_event(dispute_events_pb2.DisputeEscalated, "dispute")
DISPUTE_FORWARDED = register_event(dispute_events_pb2.DisputeForwarded, "dispute")
DISPUTE_REFERRED_TO_COMMON_SUPERIOR = register_event(
    dispute_events_pb2.DisputeReferredToCommonSuperior, "dispute"
)
COORDINATION_PLAN_ISSUED = register_event(dispute_events_pb2.CoordinationPlanIssued, "dispute")
COORDINATION_PLAN_DELIVERED = register_event(
    dispute_events_pb2.CoordinationPlanDelivered, "dispute"
)
COORDINATION_PLAN_IMPLEMENTED = register_event(
    dispute_events_pb2.CoordinationPlanImplemented, "dispute"
)
PLAN_RECONSIDERATION_REQUESTED = register_event(
    dispute_events_pb2.PlanReconsiderationRequested, "dispute"
)
DISPUTE_COORDINATION_STARTED = register_event(
    dispute_events_pb2.DisputeCoordinationStarted, "dispute"
)
DISPUTE_COORDINATION_ENDED = register_event(dispute_events_pb2.DisputeCoordinationEnded, "dispute")

# Command actions (aggregate: command).
COMMAND_ISSUED = register_event(command_events_pb2.CommandIssued, "command")
COMMAND_ACKNOWLEDGED = register_event(command_events_pb2.CommandAcknowledged, "command")
URGE_REPLIED = register_event(command_events_pb2.UrgeReplied, "command")
CORRECTION_REPORTED = register_event(command_events_pb2.CorrectionReported, "command")
COMMAND_RECONSIDERATION_REQUESTED = register_event(
    command_events_pb2.CommandReconsiderationRequested, "command"
)
COMMAND_RECONSIDERATION_ANSWERED = register_event(
    command_events_pb2.CommandReconsiderationAnswered, "command"
)

# Matter entrustment (aggregate: entrustment).
MATTER_ENTRUSTED = register_event(entrustment_events_pb2.MatterEntrusted, "entrustment")
ENTRUSTMENT_STARTED = register_event(entrustment_events_pb2.EntrustmentStarted, "entrustment")
ENTRUSTMENT_STATUS_REPORTED = register_event(
    entrustment_events_pb2.EntrustmentStatusReported, "entrustment"
)
ENTRUSTMENT_ORDER_REQUESTED = register_event(
    entrustment_events_pb2.EntrustmentOrderRequested, "entrustment"
)
ENTRUSTMENT_ORDERED = register_event(entrustment_events_pb2.EntrustmentOrdered, "entrustment")
ENTRUSTMENT_COMPLETED = register_event(entrustment_events_pb2.EntrustmentCompleted, "entrustment")
ENTRUSTMENT_RETURNED = register_event(entrustment_events_pb2.EntrustmentReturned, "entrustment")
ENTRUSTMENT_COURT_CHANGED = register_event(
    entrustment_events_pb2.EntrustmentCourtChanged, "entrustment"
)

# Case funds (aggregate: funds, keyed by the case id).
CASE_ACCOUNT_OPENED = register_event(funds_events_pb2.CaseAccountOpened, "funds")
FUNDS_ARRIVED = register_event(funds_events_pb2.FundsArrived, "funds")
DEDUCTION_REQUESTED = register_event(funds_events_pb2.DeductionRequested, "funds")
DEDUCTION_FAILED = register_event(funds_events_pb2.DeductionFailed, "funds")
DEDUCTION_ANSWER_UNRECORDED = register_event(funds_events_pb2.DeductionAnswerUnrecorded, "funds")
DEDUCTION_REVIEWED = register_event(funds_events_pb2.DeductionReviewed, "funds")
HOLD_REQUESTED = register_event(funds_events_pb2.HoldRequested, "funds")
HOLD_REFUSED = register_event(funds_events_pb2.HoldRefused, "funds")
FUNDS_HELD = register_event(funds_events_pb2.FundsHeld, "funds")
PAYMENT_DEFERRAL_APPROVED = register_event(funds_events_pb2.PaymentDeferralApproved, "funds")
PAYMENT_DEFERRAL_ENDED = register_event(funds_events_pb2.PaymentDeferralEnded, "funds")
FUNDS_RELEASED = register_event(funds_events_pb2.FundsReleased, "funds")
FUNDS_LODGED = register_event(funds_events_pb2.FundsLodged, "funds")
PAYMENT_LODGED = register_event(funds_events_pb2.PaymentLodged, "funds")
PAYMENT_NOTICE_ISSUED = register_event(funds_events_pb2.PaymentNoticeIssued, "funds")
FUNDS_PAID = register_event(funds_events_pb2.FundsPaid, "funds")
RECEIVING_ACCOUNT_CHANGE_REQUESTED = register_event(
    funds_events_pb2.ReceivingAccountChangeRequested, "funds"
)
RECEIVING_ACCOUNT_CHANGED = register_event(funds_events_pb2.ReceivingAccountChanged, "funds")
RECEIVING_ACCOUNT_CHANGE_REFUSED = register_event(
    funds_events_pb2.ReceivingAccountChangeRefused, "funds"
)

# Credit punishment (aggregate: credit, keyed by the case id).
RESTRICTION_ORDERED = register_event(credit_events_pb2.RestrictionOrdered, "credit")
RESTRICTION_SERVED = register_event(credit_events_pb2.RestrictionServed, "credit")
RESTRICTION_LIFT_DUE = register_event(credit_events_pb2.RestrictionLiftDue, "credit")
RESTRICTION_LIFTED = register_event(credit_events_pb2.RestrictionLifted, "credit")
DEBTOR_LISTED = register_event(credit_events_pb2.DebtorListed, "credit")
LISTING_DECLINED = register_event(credit_events_pb2.ListingDeclined, "credit")
LISTING_EXTENSION_DECIDED = register_event(credit_events_pb2.ListingExtensionDecided, "credit")
LISTING_EXTENDED = register_event(credit_events_pb2.ListingExtended, "credit")
LISTING_GROUND_ENDED = register_event(credit_events_pb2.ListingGroundEnded, "credit")
LISTING_DELETED = register_event(credit_events_pb2.ListingDeleted, "credit")

# Pauses of the case clock (aggregate: case): each start and its end.
CASE_SUSPENDED = register_event(case_events_pb2.CaseSuspended, "case")
CASE_RESUMED = register_event(case_events_pb2.CaseResumed, "case")
ENFORCEMENT_DEFERRED = register_event(case_events_pb2.EnforcementDeferred, "case")
ENFORCEMENT_DEFERRAL_ENDED = register_event(case_events_pb2.EnforcementDeferralEnded, "case")
PUBLIC_NOTICE_STARTED = register_event(case_events_pb2.PublicNoticeStarted, "case")
PUBLIC_NOTICE_ENDED = register_event(case_events_pb2.PublicNoticeEnded, "case")
APPRAISAL_STARTED = register_event(case_events_pb2.AppraisalStarted, "case")
APPRAISAL_ENDED = register_event(case_events_pb2.AppraisalEnded, "case")
INSTRUCTION_REQUESTED = register_event(case_events_pb2.InstructionRequested, "case")
INSTRUCTION_ANSWERED = register_event(case_events_pb2.InstructionAnswered, "case")
AUCTION_STARTED = register_event(case_events_pb2.AuctionStarted, "case")
AUCTION_ENDED = register_event(case_events_pb2.AuctionEnded, "case")

# Supervision (aggregate: supervision): 专人 tasks, petitions, the interference register,
# officers' postings.
SUPERVISION_TASK_OPENED = register_event(
    supervision_events_pb2.SupervisionTaskOpened, "supervision"
)
SUPERVISION_TASK_ANSWERED = register_event(
    supervision_events_pb2.SupervisionTaskAnswered, "supervision"
)
SUPERVISION_TASK_ESCALATED = register_event(
    supervision_events_pb2.SupervisionTaskEscalated, "supervision"
)
SUPERVISION_TASK_CLOSED = register_event(
    supervision_events_pb2.SupervisionTaskClosed, "supervision"
)
PETITION_RECEIVED = register_event(supervision_events_pb2.PetitionReceived, "supervision")
PETITION_REGISTERED = register_event(supervision_events_pb2.PetitionRegistered, "supervision")
PETITION_ANSWERED = register_event(supervision_events_pb2.PetitionAnswered, "supervision")
INTERFERENCE_RECORDED = register_event(supervision_events_pb2.InterferenceRecorded, "supervision")
OFFICER_POSTED = register_event(supervision_events_pb2.OfficerPosted, "supervision")
OFFICER_ROTATED = register_event(supervision_events_pb2.OfficerRotated, "supervision")

# Notices to the parties (aggregate: notification, keyed by the case id).
NOTICE_QUEUED = register_event(notification_events_pb2.NoticeQueued, "notification")
NOTICE_ATTEMPT_FAILED = register_event(notification_events_pb2.NoticeAttemptFailed, "notification")
NOTICE_DELIVERED = register_event(notification_events_pb2.NoticeDelivered, "notification")
NOTICE_UNDELIVERED = register_event(notification_events_pb2.NoticeUndelivered, "notification")
CASE_QUERY_CODE_ISSUED = register_event(notification_events_pb2.CaseQueryCodeIssued, "notification")

# The deadline engine's events (aggregate: deadline, keyed by the clock's subject; events
# recorded before by clock id). ClockOpened travels inside ClocksOpened now.
CLOCK_OPENED = register_event(deadline_events_pb2.ClockOpened, "deadline")
CLOCKS_OPENED = register_event(deadline_events_pb2.ClocksOpened, "deadline")
CLOCK_WARNED = register_event(deadline_events_pb2.ClockWarned, "deadline")
CLOCK_BREACHED = register_event(deadline_events_pb2.ClockBreached, "deadline")
CLOCK_ESCALATED = register_event(deadline_events_pb2.ClockEscalated, "deadline")
CLOCK_CLEARED = register_event(deadline_events_pb2.ClockCleared, "deadline")
CLOCK_PAUSED = register_event(deadline_events_pb2.ClockPaused, "deadline")
CLOCK_RESUMED = register_event(deadline_events_pb2.ClockResumed, "deadline")
CLOCK_EXTENDED = register_event(deadline_events_pb2.ClockExtended, "deadline")
CLOCK_EXTENSION_REQUESTED = register_event(deadline_events_pb2.ClockExtensionRequested, "deadline")
CLOCK_EXTENSION_REFUSED = register_event(deadline_events_pb2.ClockExtensionRefused, "deadline")
CLOCK_RECOMPUTED = register_event(deadline_events_pb2.ClockRecomputed, "deadline")
CLOCK_MOVED = register_event(deadline_events_pb2.ClockMoved, "deadline")
CALENDAR_HORIZON_REACHED = register_event(deadline_events_pb2.CalendarHorizonReached, "deadline")
