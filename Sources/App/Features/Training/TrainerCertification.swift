import Fluent
import Vapor

/// Trainer certification (DESIGN.md 3.4): a completed train-the-trainers workshop (certificate not revoked) plus a
/// pilot training delivered as trainer whose evaluations average at least the threshold → certified trainer.
/// A newly certified trainer is proposed to their institution's coordinators as an institutional expert
/// (a nominated expert profile, source "trainer certification", the pilot's areas as competencies).
struct TrainerCertification {
    let db: any Database

    static let threshold = 4.0
    /// Fewer evaluations say too little about a pilot.
    static let minimumEvaluations = 3

    /// The rule as a pure function.
    static func qualifies(completedTrainTheTrainers: Bool, pilotMeans: [(mean: Double, evaluations: Int)]) -> Bool {
        completedTrainTheTrainers && pilotMeans.contains { $0.evaluations >= minimumEvaluations && $0.mean + 1e-9 >= threshold }
    }

    /// The pilots the person delivered as trainer, with their evaluation mean and count.
    func pilots(_ userID: UUID) async throws -> [(event: TrainingEvent, mean: Double, evaluations: Int)] {
        let trained = try await EventTrainer.query(on: db).filter(\.$user.$id == userID).with(\.$event).all()
            .map(\.event).filter { $0.kind == .pilot && $0.status == .scheduled }
        var result: [(event: TrainingEvent, mean: Double, evaluations: Int)] = []
        for event in trained {
            let ratings = try await EventEvaluation.query(on: db).filter(\.$event.$id == event.requireID()).all().map(\.ratings)
            if let mean = TrainingRules.overallMean(ratings) { result.append((event, mean, ratings.count)) }
        }
        return result
    }

    func completedTrainTheTrainers(_ userID: UUID) async throws -> Bool {
        let completions = try await TrainingCompletion.query(on: db).filter(\.$user.$id == userID)
            .filter(\.$eventKind == TrainingEvent.Kind.trainTheTrainers.rawValue).all()
        guard !completions.isEmpty else { return false }
        let revoked = try await Certificate.query(on: db).filter(\.$completion.$id ~~ completions.compactMap(\.id)).filter(\.$revokedAt != nil).count()
        return revoked < completions.count
    }

    func isCertified(_ userID: UUID) async throws -> Bool {
        guard try await completedTrainTheTrainers(userID) else { return false }
        return Self.qualifies(completedTrainTheTrainers: true, pilotMeans: try await pilots(userID).map { ($0.mean, $0.evaluations) })
    }

    /// After an evaluation of a pilot: its trainers who are now certified and have no expert profile are proposed
    /// to their coordinators. Returns the proposed profiles.
    @discardableResult
    func propose(after event: TrainingEvent, mailer: any Mailer, catalog: Catalog, baseURL: String) async throws -> [ExpertProfile] {
        guard event.kind == .pilot else { return [] }
        var proposed: [ExpertProfile] = []
        for trainer in try await EventTrainer.query(on: db).filter(\.$event.$id == event.requireID()).with(\.$user).all() {
            let user = trainer.user
            guard let institutionID = user.$institution.id, try await isCertified(user.requireID()) else { continue }
            guard let profile = try await ExpertNominations(db: db, mailer: mailer, catalog: catalog, baseURL: baseURL)
                .nominate(user, institutionID: institutionID, source: .trainerCertification, areas: event.areas,
                          evidence: "Certified trainer: train-the-trainers completed; pilot \"\(event.title)\" evaluated \(String(format: "%.1f", try await pilots(user.requireID()).map(\.mean).max() ?? 0))/5",
                          by: nil) else { continue }
            proposed.append(profile)
            let coordinators = try await RoleAssignment.query(on: db).filter(\.$role == Role.institutionalCoordinator.rawValue)
                .filter(\.$scopeID == institutionID.uuidString).with(\.$user).all()
            for coordinator in coordinators {
                try await Notifier(db: db, mailer: mailer, catalog: catalog, baseURL: baseURL)
                    .notify(coordinator.user, .training, key: "training.mail.certified-trainer", arguments: [user.name],
                            link: "/experts/\(try profile.requireID().uuidString)")
            }
        }
        return proposed
    }
}
