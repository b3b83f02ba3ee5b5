export type { Actor, ActorContext, ActorFactory } from "./actor.ts";
export {
  type ActorKind,
  type Address,
  actorKinds,
  kindSubjects,
  address,
  addressText,
  parseSubject,
  subjectOf,
} from "./address.ts";
export { Mailbox, mailboxDepthMaxDefault } from "./mailbox.ts";
export { ActorSystem, type ActorSystemOptions } from "./system.ts";
export { InProcessTransport, type RequestOptions, type Transport } from "./transport.ts";
