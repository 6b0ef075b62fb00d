@testable import App
import Foundation
import Testing

/// The Request for Knowledge workflow of DESIGN.md section 3.3 as one state machine table.
@Suite("Experts: Request for Knowledge workflow")
struct RequestWorkflowTests {
    /// Runs one move and returns where it lands, or the error.
    func move(_ state: RfKState, _ event: RfKEvent, by actor: RfKActor, reason: String? = nil) -> Result<RfKState, RfKWorkflowError> {
        RequestWorkflow.transition(from: state, event: event, by: actor, reason: reason).map(\.to)
    }

    // MARK: The table itself

    @Test("every row of the table succeeds from each of its states with each of its actors and lands in its target")
    func everyAllowedTransition() throws {
        var exercised = 0
        for row in RequestWorkflow.transitions {
            for state in row.from {
                for actor in row.actors {
                    let reason: String? = row.needsReason ? "documented reason" : nil
                    let result = RequestWorkflow.transition(from: state, event: row.event, by: actor, reason: reason)
                    let landed = try result.get()
                    #expect(landed.to == row.to, "\(state.rawValue) --\(row.event.rawValue)/\(actor.rawValue)-->")
                    #expect(landed.records == row.records)
                    #expect(RequestWorkflow.allowedEvents(in: state, for: actor).contains(row.event))
                    exercised += 1
                }
            }
        }
        // 17 rows, 33 (state, actor) pairs; withdraw alone has the 7 open states.
        #expect(exercised == 33)
    }

    @Test("each (state, event) pair has at most one row, so no move is ambiguous")
    func deterministic() {
        for state in RfKState.allCases {
            for event in RfKEvent.allCases {
                let rows = RequestWorkflow.transitions.filter { $0.event == event && $0.from.contains(state) }
                #expect(rows.count <= 1, "\(state.rawValue) / \(event.rawValue)")
            }
        }
    }

    @Test("every event has a row, every row has actors, history keys are distinct catalog-style keys")
    func tableIsWellFormed() {
        #expect(Set(RequestWorkflow.transitions.map(\.event)) == Set(RfKEvent.allCases))
        #expect(RequestWorkflow.transitions.allSatisfy { !$0.actors.isEmpty && !$0.from.isEmpty })
        let keys = RequestWorkflow.transitions.map(\.records)
        #expect(Set(keys).count == keys.count)
        let pattern = try! NSRegularExpression(pattern: #"^rfk\.history\.[a-z_]+$"#)
        for key in keys {
            #expect(pattern.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)) != nil, "\(key)")
        }
        // Only reject and override require a reason.
        #expect(Set(RequestWorkflow.transitions.filter(\.needsReason).map(\.event)) == [.reject, .override])
    }

    @Test("final states have no way out; every other state has one and is reachable from draft")
    func finalStatesAndReachability() {
        let withExit = Set(RequestWorkflow.transitions.flatMap(\.from))
        #expect(RequestWorkflow.finalStates == Set(RfKState.allCases).subtracting(withExit))
        #expect(RequestWorkflow.finalStates == [.rejected, .closed, .withdrawn, .resolvedByExisting])
        // evaluated only moves to closed.
        let fromEvaluated = RequestWorkflow.transitions.filter { $0.from.contains(.evaluated) }
        #expect(fromEvaluated.map(\.to) == [.closed])

        var reached: Set<RfKState> = [.draft]
        var frontier: [RfKState] = [.draft]
        while let state = frontier.popLast() {
            for row in RequestWorkflow.transitions where row.from.contains(state) && !reached.contains(row.to) {
                reached.insert(row.to)
                frontier.append(row.to)
            }
        }
        #expect(reached == Set(RfKState.allCases))
    }

    @Test("withdraw is allowed from exactly the open states, by the requester")
    func withdrawFromOpenStates() {
        #expect(RequestWorkflow.openStates == [.draft, .submitted, .needsInfo, .matching, .offered, .accepted, .planned])
        for state in RfKState.allCases {
            if RequestWorkflow.openStates.contains(state) {
                #expect(move(state, .withdraw, by: .requester) == .success(.withdrawn))
                #expect(move(state, .withdraw, by: .coordinator) == .failure(.wrongActor(event: .withdraw, actor: .coordinator)))
            } else {
                #expect(move(state, .withdraw, by: .requester) == .failure(.notAllowed(state: state, event: .withdraw)))
            }
        }
    }

    // MARK: The journeys of DESIGN 3.3

    @Test("the main path: draft to closed, with the actor of each step")
    func mainPath() {
        let steps: [(RfKEvent, RfKActor, RfKState)] = [
            (.submit, .requester, .submitted),
            (.accept, .coordinator, .matching),
            (.offer, .system, .offered),
            (.acceptOffer, .expert, .accepted),
            (.plan, .expert, .planned),
            (.deliver, .expert, .delivered),
            (.evaluate, .requester, .evaluated),
            (.close, .system, .closed),
        ]
        var state = RfKState.draft
        for (event, actor, expected) in steps {
            let next = move(state, event, by: actor)
            #expect(next == .success(expected), "\(state.rawValue) --\(event.rawValue)-->")
            guard case .success(let s) = next else { return }
            state = s
        }
        #expect(state == .closed)
    }

    @Test("triage: request info and answer it, reject with a reason, accept into matching")
    func triage() {
        #expect(move(.submitted, .requestInfo, by: .coordinator) == .success(.needsInfo))
        #expect(move(.needsInfo, .provideInfo, by: .requester) == .success(.submitted))
        #expect(move(.submitted, .reject, by: .coordinator, reason: "outside the IaH areas") == .success(.rejected))
        #expect(move(.needsInfo, .reject, by: .coordinator, reason: "no answer in 30 days") == .success(.rejected))
        #expect(move(.submitted, .accept, by: .coordinator) == .success(.matching))
    }

    @Test("offers: a declined or expired offer goes back to matching for the next candidate")
    func offersPassOn() {
        #expect(move(.offered, .declineOffer, by: .expert) == .success(.matching))
        #expect(move(.offered, .expireOffer, by: .system) == .success(.matching))
        #expect(move(.matching, .offer, by: .coordinator) == .success(.offered))
    }

    @Test("escalation stays in matching (a self-transition recording the level change), also from an unhandled submission")
    func escalation() throws {
        let row = try RequestWorkflow.transition(from: .matching, event: .escalate, by: .system).get()
        #expect(row.to == .matching)
        #expect(row.records == "rfk.history.escalated")
        #expect(move(.matching, .escalate, by: .coordinator) == .success(.matching))
        #expect(move(.submitted, .escalate, by: .system) == .success(.matching))
        #expect(move(.offered, .escalate, by: .system) == .failure(.notAllowed(state: .offered, event: .escalate)))
        #expect(move(.matching, .escalate, by: .requester) == .failure(.wrongActor(event: .escalate, actor: .requester)))
    }

    @Test("override: a coordinator offers outside the ranking, from matching or replacing an offer, with a reason")
    func override() {
        #expect(move(.matching, .override, by: .coordinator, reason: "the only Albanian-speaking expert") == .success(.offered))
        #expect(move(.offered, .override, by: .coordinator, reason: "requester asked for her") == .success(.offered))
        #expect(move(.matching, .override, by: .system, reason: "x") == .failure(.wrongActor(event: .override, actor: .system)))
        #expect(move(.accepted, .override, by: .coordinator, reason: "x") == .failure(.notAllowed(state: .accepted, event: .override)))
    }

    @Test("resolved by existing knowledge: from submitted, needs info or matching, by the requester")
    func resolvedByExisting() {
        for state in [RfKState.submitted, .needsInfo, .matching] {
            #expect(move(state, .resolveWithExisting, by: .requester) == .success(.resolvedByExisting))
        }
        #expect(move(.offered, .resolveWithExisting, by: .requester) == .failure(.notAllowed(state: .offered, event: .resolveWithExisting)))
        #expect(move(.draft, .resolveWithExisting, by: .requester) == .failure(.notAllowed(state: .draft, event: .resolveWithExisting)))
        #expect(move(.matching, .resolveWithExisting, by: .coordinator) == .failure(.wrongActor(event: .resolveWithExisting, actor: .coordinator)))
    }

    // MARK: Forbidden moves

    @Test("forbidden moves per actor: wrong state is notAllowed, wrong actor is wrongActor")
    func forbiddenMoves() {
        // Expert accepting in draft: there is no offer to accept.
        #expect(move(.draft, .acceptOffer, by: .expert) == .failure(.notAllowed(state: .draft, event: .acceptOffer)))
        #expect(move(.draft, .accept, by: .expert) == .failure(.notAllowed(state: .draft, event: .accept)))
        // Requester offering, or accepting their own request in triage.
        #expect(move(.matching, .offer, by: .requester) == .failure(.wrongActor(event: .offer, actor: .requester)))
        #expect(move(.submitted, .accept, by: .requester) == .failure(.wrongActor(event: .accept, actor: .requester)))
        // Coordinator accepting or declining an offer on the expert's behalf, or delivering.
        #expect(move(.offered, .acceptOffer, by: .coordinator) == .failure(.wrongActor(event: .acceptOffer, actor: .coordinator)))
        #expect(move(.offered, .declineOffer, by: .coordinator) == .failure(.wrongActor(event: .declineOffer, actor: .coordinator)))
        #expect(move(.planned, .deliver, by: .coordinator) == .failure(.wrongActor(event: .deliver, actor: .coordinator)))
        // System rejecting, submitting, evaluating.
        #expect(move(.submitted, .reject, by: .system, reason: "SLA") == .failure(.wrongActor(event: .reject, actor: .system)))
        #expect(move(.draft, .submit, by: .system) == .failure(.wrongActor(event: .submit, actor: .system)))
        #expect(move(.delivered, .evaluate, by: .system) == .failure(.wrongActor(event: .evaluate, actor: .system)))
        // Expert expiring their own offer, or evaluating their own delivery.
        #expect(move(.offered, .expireOffer, by: .expert) == .failure(.wrongActor(event: .expireOffer, actor: .expert)))
        #expect(move(.delivered, .evaluate, by: .expert) == .failure(.wrongActor(event: .evaluate, actor: .expert)))
        // Skipping steps.
        #expect(move(.draft, .offer, by: .coordinator) == .failure(.notAllowed(state: .draft, event: .offer)))
        #expect(move(.accepted, .deliver, by: .expert) == .failure(.notAllowed(state: .accepted, event: .deliver)))
        #expect(move(.planned, .close, by: .coordinator) == .failure(.notAllowed(state: .planned, event: .close)))
        #expect(move(.needsInfo, .accept, by: .coordinator) == .failure(.notAllowed(state: .needsInfo, event: .accept)))
    }

    @Test("nothing moves out of a final state, for anyone")
    func finalStatesAreFinal() {
        for state in RequestWorkflow.finalStates {
            for event in RfKEvent.allCases {
                for actor in RfKActor.allCases {
                    #expect(move(state, event, by: actor, reason: "r") == .failure(.notAllowed(state: state, event: event)))
                }
            }
            for actor in RfKActor.allCases { #expect(RequestWorkflow.allowedEvents(in: state, for: actor) == []) }
        }
    }

    @Test("reject and override need a non-blank reason; the check comes after the state and actor checks")
    func reasonRequired() {
        #expect(move(.submitted, .reject, by: .coordinator) == .failure(.reasonRequired))
        #expect(move(.submitted, .reject, by: .coordinator, reason: "  \n ") == .failure(.reasonRequired))
        #expect(move(.matching, .override, by: .coordinator) == .failure(.reasonRequired))
        #expect(move(.offered, .override, by: .coordinator, reason: "") == .failure(.reasonRequired))
        #expect(move(.closed, .reject, by: .coordinator) == .failure(.notAllowed(state: .closed, event: .reject)))
        #expect(move(.submitted, .reject, by: .requester) == .failure(.wrongActor(event: .reject, actor: .requester)))
        // A reason given where none is needed is fine (e.g. why the requester withdrew).
        #expect(move(.matching, .withdraw, by: .requester, reason: "found a partner elsewhere") == .success(.withdrawn))
    }

    // MARK: allowedEvents

    @Test("allowed events: the buttons each actor sees, in table order")
    func allowedEventsExamples() {
        #expect(RequestWorkflow.allowedEvents(in: .draft, for: .requester) == [.submit, .withdraw])
        #expect(RequestWorkflow.allowedEvents(in: .draft, for: .coordinator) == [])
        #expect(RequestWorkflow.allowedEvents(in: .submitted, for: .coordinator) == [.requestInfo, .reject, .accept, .escalate])
        #expect(RequestWorkflow.allowedEvents(in: .submitted, for: .requester) == [.withdraw, .resolveWithExisting])
        #expect(RequestWorkflow.allowedEvents(in: .submitted, for: .system) == [.escalate])
        #expect(RequestWorkflow.allowedEvents(in: .needsInfo, for: .requester) == [.provideInfo, .withdraw, .resolveWithExisting])
        #expect(RequestWorkflow.allowedEvents(in: .matching, for: .coordinator) == [.offer, .override, .escalate])
        #expect(RequestWorkflow.allowedEvents(in: .matching, for: .system) == [.offer, .escalate])
        #expect(RequestWorkflow.allowedEvents(in: .offered, for: .expert) == [.acceptOffer, .declineOffer])
        #expect(RequestWorkflow.allowedEvents(in: .offered, for: .system) == [.expireOffer])
        #expect(RequestWorkflow.allowedEvents(in: .offered, for: .coordinator) == [.override])
        #expect(RequestWorkflow.allowedEvents(in: .accepted, for: .expert) == [.plan])
        #expect(RequestWorkflow.allowedEvents(in: .accepted, for: .coordinator) == [.plan])
        #expect(RequestWorkflow.allowedEvents(in: .planned, for: .expert) == [.deliver])
        #expect(RequestWorkflow.allowedEvents(in: .delivered, for: .requester) == [.evaluate])
        #expect(RequestWorkflow.allowedEvents(in: .delivered, for: .expert) == [])
        #expect(RequestWorkflow.allowedEvents(in: .evaluated, for: .coordinator) == [.close])
        #expect(RequestWorkflow.allowedEvents(in: .evaluated, for: .requester) == [])
    }

    @Test("states and events keep their stored names")
    func rawValues() throws {
        #expect(RfKState.needsInfo.rawValue == "needs_info")
        #expect(RfKState.resolvedByExisting.rawValue == "resolved_by_existing")
        #expect(RfKEvent.resolveWithExisting.rawValue == "resolve_with_existing")
        #expect(RfKEvent.acceptOffer.rawValue == "accept_offer")
        let decoded = try JSONDecoder().decode([RfKState].self, from: Data(#"["needs_info","offered"]"#.utf8))
        #expect(decoded == [.needsInfo, .offered])
    }
}
