// The one vocabulary of API, log and dashboard: values from libs/contracts (a file without imports,
// so the bundle takes it as is).
export {
  Attention,
  BranchStatus,
  FORWARD_PHASES,
  Outcome,
  Phase,
  PROTOCOL_PHASES,
  Protocol,
  SETTLED_STATUSES,
  TransactionStatus,
} from '../../../../libs/contracts/src/vocabulary';
