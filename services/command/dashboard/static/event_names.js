// Every event's name in a case's timeline, in Chinese; an event not listed shows its type.

export const EVENTS = {
  ApplicationReceived: "收到执行申请", CaseFiled: "立案", CaseNumberIssued: "编立案号",
  OfficerAssigned: "分配承办人", ExecutionNoticeServed: "送达执行通知书", CaseTriaged: "繁简分流",
  CaseConverted: "转为普通程序", CaseClosed: "结案", CaseHandlingCourtChanged: "执行法院变更",
  NetworkQueryStarted: "发起网络查控", ChannelQueryAnswered: "查控渠道反馈",
  QueryChannelsAnswered: "查控渠道反馈",
  ChannelQueryFailed: "查控渠道失败", NetworkQueryCompleted: "网络查控完成", AssetFound: "发现财产",
  AssetsPushedToParties: "财产信息推送当事人", ControlRequested: "发起控制", AssetControlled: "财产已控制",
  WaitingSeizureRegistered: "轮候查封", ControlFailed: "控制失败",
  ControlTookEffectAfterFailure: "控制失败后答复已生效", ControlReleased: "解除控制",
  ControlRenewed: "续行控制", ControlLapsed: "控制失效", ReferencePriceStarted: "启动确定参考价",
  ReferencePriceFixed: "参考价确定", SaleStarted: "启动变价", AssetCourtChanged: "财产执行法院变更",
  ClockOpened: "期限开始", ClocksOpened: "期限开始", ClockWarned: "期限预警", ClockBreached: "期限届满未办结",
  ClockEscalated: "超期升级", ClockCleared: "期限内办结", ClockPaused: "期限中止",
  ClockResumed: "期限恢复", ClockExtended: "期限延长（院长批准）", ClockMoved: "期限随案移转",
  ClockExtensionRequested: "申请延长期限", ClockExtensionRefused: "延长期限申请未获批准",
  CommandIssued: "下达指挥事项", CommandAcknowledged: "签收指挥事项", UrgeReplied: "督办回复",
  CorrectionReported: "报告纠正情况", CommandReconsiderationRequested: "申请复议",
  CommandReconsiderationAnswered: "复议答复", MatterEntrusted: "委托事项", DisputeOpened: "执行争议",
  SaleCompleted: "变价成交",
  // Case funds (案款); each entry's line (summary) gives the amounts, reasons and accounts.
  CaseAccountOpened: "开立案款账户", FundsArrived: "案款到账", DeductionRequested: "申请扣划",
  DeductionFailed: "扣划未成功", DeductionAnswerUnrecorded: "扣划答复无法入账", DeductionReviewed: "财务核查扣划答复", HoldRequested: "申请延缓发放或提存", HoldRefused: "不准许延缓发放或提存",
  FundsHeld: "部分案款延缓发放", PaymentDeferralApproved: "案款延缓发放", PaymentDeferralEnded: "延缓发放事由消除",
  FundsReleased: "延缓发放部分恢复发放", FundsLodged: "部分案款提存", PaymentLodged: "案款提存",
  PaymentNoticeIssued: "通知财务发放", FundsPaid: "案款发放", ReceivingAccountChangeRequested: "申请变更收款账户",
  ReceivingAccountChanged: "收款账户变更", ReceivingAccountChangeRefused: "不准许变更收款账户",
  // 终本 and after; each entry's line names the debtor, the act's date and its result.
  DebtorVisited: "约谈、传唤被执行人", ApplicantInterviewed: "约谈申请执行人", ObstructionFound: "查明妨碍执行",
  SearchConducted: "搜查", PunishmentImposed: "罚款、拘留", ZhongbenProposed: "提请终本",
  ZhongbenRefused: "终本未获批准", ZhongbenRuled: "裁定终结本次执行", ZhongbenRulingServed: "送达终本裁定",
  ZhongbenObjected: "终本异议", ZhongbenObjectionDecided: "终本异议审查", ZhongbenRevoked: "撤销终本裁定",
  ExecutionResumed: "恢复执行", ZhongbenRequeryStarted: "终本后定期查询", ZhongbenRequeryCompleted: "定期查询结果",
  ZhongbenRequeryPeriodEnded: "定期查询期间届满",
  // Credit punishment (限制消费、失信名单).
  RestrictionOrdered: "限制消费", RestrictionServed: "送达限制消费令", RestrictionLiftDue: "应解除限制消费",
  RestrictionLifted: "解除限制消费", DebtorListed: "纳入失信名单", ListingDeclined: "决定不纳入失信名单",
  ListingExtensionDecided: "决定延长失信期限", ListingExtended: "延长失信期限", ListingGroundEnded: "失信情形消除", ListingDeleted: "删除失信信息",
  // Supervision: petitions (信访) naming the case, and (to the command centre and discipline
  // inspection only) the interference register (干预过问案件登记).
  PetitionReceived: "收到信访", PetitionRegistered: "信访登记", PetitionAnswered: "信访答复",
  InterferenceRecorded: "干预过问登记", SupervisionTaskOpened: "督办任务", SupervisionTaskAnswered: "督办任务答复",
  SupervisionTaskEscalated: "督办任务升级", SupervisionTaskClosed: "督办任务关闭",
};
