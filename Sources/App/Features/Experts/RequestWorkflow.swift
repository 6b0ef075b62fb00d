import Foundation

// The Request for Knowledge workflow of DESIGN.md section 3.3 "Workflow" and "Escalation
// ladder" as one explicit state machine: the table `RequestWorkflow.transitions` is the only
// place the rules live. The service resolves who the caller is *for this request* (its
// requester, the coordinator of its current level, the expert holding the offer, or a
// background job) into an `RfKActor`, asks `RequestWorkflow.transition`, and on success
// stores `to` and writes a history entry keyed `records` (with the reason, if any). Which
// level the request sits at, who the next candidate is and when an offer expires are the
// service's business; the table only says which moves exist and who may make them.

/// The states of a Request for Knowledge.
public enum RfKState: String, Codable, CaseIterable, Sendable {
    case draft
    case submitted
    case needsInfo = "needs_info"
    case rejected
    case matching
    case offered
    case accepted
    case planned
    case delivered
    case evaluated
    case closed
    case withdrawn
    case resolvedByExisting = "resolved_by_existing"

    /// Catalog key of the state's display name.
    public var catalogKey: String { "rfk.state.\(rawValue)" }
}

/// Who makes a move, relative to one request.
public enum RfKActor: String, Codable, CaseIterable, Sendable {
    /// The staff member who wrote the request.
    case requester
    /// The coordinator of the request's current level (institutional, national or regional).
    case coordinator
    /// The expert holding the current offer (or, once accepted, the assignment).
    case expert
    /// Background jobs: SLA timers, offer expiry, automatic offers and escalation.
    case system
}

/// The moves of the workflow.
public enum RfKEvent: String, Codable, CaseIterable, Sendable {
    case submit
    case requestInfo = "request_info"
    case provideInfo = "provide_info"
    case reject
    /// Triage accepted: the request goes to matching.
    case accept
    case offer
    case acceptOffer = "accept_offer"
    case declineOffer = "decline_offer"
    case expireOffer = "expire_offer"
    /// To the next level of the ladder; the state stays (or becomes) matching.
    case escalate
    case plan
    case deliver
    case evaluate
    case close
    case withdraw
    case resolveWithExisting = "resolve_with_existing"
    /// A coordinator offers the request to an expert outside the ranking or below the threshold.
    case override

    /// Catalog key of the event's button label.
    public var catalogKey: String { "rfk.event.\(rawValue)" }
}

/// One row of the table: `event` moves a request in any of `from` to `to`, when made by one of
/// `actors`; the history entry is the catalog key `records`; `needsReason` = a non-blank
/// reason must be given (and is logged).
public struct RfKTransition: Sendable, Equatable {
    public var from: Set<RfKState>
    public var event: RfKEvent
    public var to: RfKState
    public var actors: Set<RfKActor>
    /// Catalog key of the history entry, "rfk.history.<what happened>".
    public var records: String
    public var needsReason: Bool

    public init(from: Set<RfKState>, event: RfKEvent, to: RfKState, actors: Set<RfKActor>, records: String, needsReason: Bool = false) {
        self.from = from
        self.event = event
        self.to = to
        self.actors = actors
        self.records = records
        self.needsReason = needsReason
    }
}

public enum RfKWorkflowError: Error, Equatable, Sendable {
    /// No row of the table moves `state` by `event`.
    case notAllowed(state: RfKState, event: RfKEvent)
    /// The move exists, but not for this actor.
    case wrongActor(event: RfKEvent, actor: RfKActor)
    /// The move needs a reason and none (or only whitespace) was given.
    case reasonRequired
}

/// The workflow table and the questions asked of it.
///
/// ```
/// main path   draft ─submit─► submitted ─accept─► matching ─offer─► offered ─accept_offer─► accepted
///             ─plan─► planned ─deliver─► delivered ─evaluate─► evaluated ─close─► closed
/// triage      submitted ─request_info─► needs_info ─provide_info─► submitted
///             submitted, needs_info ─reject (reason)─► rejected
/// offers      offered ─decline_offer / expire_offer─► matching (next candidate)
///             matching, offered ─override (reason)─► offered
/// ladder      submitted, matching ─escalate─► matching (next level)
/// ways out    open states ─withdraw─► withdrawn
///             submitted, needs_info, matching ─resolve_with_existing─► resolved_by_existing
/// ```
///
/// Decisions the design leaves open:
/// - `escalate` from matching is a self-transition: the state stays matching, the history
///   entry records that the level changed. From submitted (triage SLA lapsed) it skips triage
///   and goes straight to matching at the next level.
/// - `override` from offered replaces the current offer (the service withdraws it).
/// - `reject` is possible from needs_info too, so a request whose requester never answers
///   can be closed off by the coordinator (with a reason).
/// - Each (state, event) pair has at most one row, so a move is never ambiguous.
public enum RequestWorkflow {
    /// States a requester may withdraw from: nothing has been delivered yet.
    public static let openStates: Set<RfKState> = [.draft, .submitted, .needsInfo, .matching, .offered, .accepted, .planned]

    /// States with no way out.
    public static let finalStates: Set<RfKState> = [.rejected, .closed, .withdrawn, .resolvedByExisting]

    /// The table: the only place the rules live.
    public static let transitions: [RfKTransition] = [
        // Writing and triage (level 1: the institutional coordinator).
        RfKTransition(from: [.draft], event: .submit, to: .submitted, actors: [.requester], records: "rfk.history.submitted"),
        RfKTransition(from: [.submitted], event: .requestInfo, to: .needsInfo, actors: [.coordinator], records: "rfk.history.info_requested"),
        RfKTransition(from: [.needsInfo], event: .provideInfo, to: .submitted, actors: [.requester], records: "rfk.history.info_provided"),
        RfKTransition(from: [.submitted, .needsInfo], event: .reject, to: .rejected, actors: [.coordinator], records: "rfk.history.rejected", needsReason: true),
        RfKTransition(from: [.submitted], event: .accept, to: .matching, actors: [.coordinator], records: "rfk.history.triage_accepted"),

        // Matching, offers and the escalation ladder.
        RfKTransition(from: [.matching], event: .offer, to: .offered, actors: [.coordinator, .system], records: "rfk.history.offered"),
        RfKTransition(from: [.matching, .offered], event: .override, to: .offered, actors: [.coordinator], records: "rfk.history.offered_by_override", needsReason: true),
        RfKTransition(from: [.offered], event: .acceptOffer, to: .accepted, actors: [.expert], records: "rfk.history.offer_accepted"),
        RfKTransition(from: [.offered], event: .declineOffer, to: .matching, actors: [.expert], records: "rfk.history.offer_declined"),
        RfKTransition(from: [.offered], event: .expireOffer, to: .matching, actors: [.system], records: "rfk.history.offer_expired"),
        RfKTransition(from: [.submitted, .matching], event: .escalate, to: .matching, actors: [.system, .coordinator], records: "rfk.history.escalated"),

        // Delivery.
        RfKTransition(from: [.accepted], event: .plan, to: .planned, actors: [.expert, .coordinator], records: "rfk.history.planned"),
        RfKTransition(from: [.planned], event: .deliver, to: .delivered, actors: [.expert], records: "rfk.history.delivered"),
        RfKTransition(from: [.delivered], event: .evaluate, to: .evaluated, actors: [.requester], records: "rfk.history.evaluated"),
        RfKTransition(from: [.evaluated], event: .close, to: .closed, actors: [.coordinator, .system], records: "rfk.history.closed"),

        // The requester's ways out.
        RfKTransition(from: openStates, event: .withdraw, to: .withdrawn, actors: [.requester], records: "rfk.history.withdrawn"),
        RfKTransition(from: [.submitted, .needsInfo, .matching], event: .resolveWithExisting, to: .resolvedByExisting, actors: [.requester], records: "rfk.history.resolved_by_existing"),
    ]

    /// The row for `event` in `from`, if the actor may make it and a required reason is given.
    /// Checked in this order: the move exists (`notAllowed`), the actor is listed
    /// (`wrongActor`), the reason is present and not blank (`reasonRequired`).
    public static func transition(from: RfKState, event: RfKEvent, by actor: RfKActor, reason: String? = nil) -> Result<RfKTransition, RfKWorkflowError> {
        guard let row = transitions.first(where: { $0.event == event && $0.from.contains(from) }) else {
            return .failure(.notAllowed(state: from, event: event))
        }
        guard row.actors.contains(actor) else {
            return .failure(.wrongActor(event: event, actor: actor))
        }
        if row.needsReason, (reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return .failure(.reasonRequired)
        }
        return .success(row)
    }

    /// The events `actor` may make in `state`, in table order (for the buttons to show).
    public static func allowedEvents(in state: RfKState, for actor: RfKActor) -> [RfKEvent] {
        transitions.filter { $0.from.contains(state) && $0.actors.contains(actor) }.map(\.event)
    }
}
