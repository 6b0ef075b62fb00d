import Fluent
import Vapor

/// /api/v1/events (public), /api/v1/trained-academics (coordinators, the filters of the page) and
/// /api/v1/certificates/{code} (public verification).
struct TrainingAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let api = routes.grouped("api", "v1").grouped(TokenAuthenticator())
        api.get("events", use: events)
        api.get("events", ":id", use: event)
        api.get("certificates", ":code", use: certificate)
        api.grouped(User.guardMiddleware()).get("trained-academics", use: trainedAcademics)
    }

    struct SessionDTO: Content {
        var id: UUID
        var start: Date
        var end: Date
        var venue: String
        var online: Bool
        var cancelled: Bool
    }

    struct EventDTO: Content {
        var id: UUID
        var kind: String
        var status: String
        var title: String
        var institutionId: UUID
        var moduleId: UUID?
        var requestId: UUID?
        var areas: [String]
        var language: String
        var timeZone: String
        var capacity: Int
        var registered: Int
        var waiting: Int
        var requiresApproval: Bool
        var registrationOpens: Date?
        var registrationCloses: Date?
        var hours: Double
        var minAttendance: Double
        var requiresEvaluation: Bool
        var sessions: [SessionDTO]
        var calendar: String
    }

    struct ListDTO<Item: Content>: Content { var total: Int; var items: [Item] }

    func dto(_ req: Request, _ event: TrainingEvent) async throws -> EventDTO {
        let id = try event.requireID()
        let registrations = try await EventRegistration.query(on: req.db).filter(\.$event.$id == id).all()
        let sessions = try await req.training.sessions(of: event)
        return EventDTO(
            id: id, kind: event.kind.rawValue, status: event.status.rawValue, title: event.title, institutionId: event.$institution.id,
            moduleId: event.$module.id, requestId: event.requestID, areas: event.areas, language: event.language, timeZone: event.timeZone,
            capacity: event.capacity, registered: registrations.filter { $0.status == .registered }.count,
            waiting: registrations.filter { $0.status == .waitlisted }.count, requiresApproval: event.requiresApproval,
            registrationOpens: event.registrationOpens, registrationCloses: event.registrationCloses, hours: event.hours,
            minAttendance: event.minAttendance, requiresEvaluation: event.requiresEvaluation,
            sessions: sessions.map { SessionDTO(id: $0.id!, start: $0.startsAt, end: $0.endsAt, venue: $0.venue, online: !$0.onlineURL.isEmpty, cancelled: $0.cancelled) },
            calendar: "\(req.application.config.baseURL)/events/\(id.uuidString)/calendar.ics")
    }

    /// Events, soonest first; `kind`, `institution`, `area` and `upcoming=true` narrow the list.
    func events(req: Request) async throws -> ListDTO<EventDTO> {
        var query = TrainingEvent.query(on: req.db)
        if let text = try? req.query.get(String.self, at: "kind") {
            guard let kind = TrainingEvent.Kind(rawValue: text) else { throw ValidationProblem(errors: ["kind": "Unknown event kind."]) }
            query = query.filter(\.$kind == kind)
        }
        if let text = try? req.query.get(String.self, at: "institution") {
            guard let id = UUID(uuidString: text) else { throw ValidationProblem(errors: ["institution": "Not an institution id."]) }
            query = query.filter(\.$institution.$id == id)
        }
        let area = try? req.query.get(String.self, at: "area")
        let upcoming = (try? req.query.get(Bool.self, at: "upcoming")) ?? false
        var items: [EventDTO] = []
        for event in try await query.all() where area.map({ event.areas.contains($0) }) ?? true {
            let item = try await dto(req, event)
            if upcoming, !(item.sessions.last.map { $0.end >= Date() } ?? false) { continue }
            items.append(item)
        }
        items.sort { ($0.sessions.first?.start ?? .distantFuture) < ($1.sessions.first?.start ?? .distantFuture) }
        return ListDTO(total: items.count, items: items)
    }

    func event(req: Request) async throws -> EventDTO {
        guard let id = req.parameters.get("id", as: UUID.self), let event = try await TrainingEvent.find(id, on: req.db) else { throw Abort(.notFound) }
        return try await dto(req, event)
    }

    struct CertificateDTO: Content {
        var code: String
        var status: String
        var holder: String
        var event: String
        var eventKind: String
        var firstDay: Date
        var lastDay: Date
        var hours: Double
        var issuerId: UUID
        var issuer: String
        var issuedAt: Date
        var revokedAt: Date?
        var revocationReason: String?
        var verificationUrl: String
        var badgeAssertion: String
    }

    func certificate(req: Request) async throws -> CertificateDTO {
        guard let certificate = try await CertificateRoutes.find(req.parameters.get("code"), on: req.db) else { throw Abort(.notFound) }
        let issuer = try await Institution.find(certificate.$issuer.id, on: req.db)
        let base = req.application.config.baseURL
        return CertificateDTO(
            code: certificate.code, status: certificate.revokedAt == nil ? "valid" : "revoked", holder: certificate.holderName,
            event: certificate.eventTitle, eventKind: certificate.eventKind, firstDay: certificate.firstDay, lastDay: certificate.lastDay,
            hours: certificate.hours, issuerId: certificate.$issuer.id, issuer: issuer.map { localized($0.names, .en) } ?? "",
            issuedAt: certificate.issuedAt, revokedAt: certificate.revokedAt, revocationReason: certificate.revokeReason,
            verificationUrl: "\(base)/verify/\(certificate.code)", badgeAssertion: OpenBadges.assertionURL(base, code: certificate.code))
    }

    struct TrainedDTO: Content {
        var name: String
        var institutionId: UUID?
        var country: String
        var eventId: UUID
        var event: String
        var eventKind: String
        var areas: [String]
        var year: Int
        var hours: Double
        var retrained: Bool
        var completedAt: Date
        var certificate: String?
    }

    struct CountDTO: Content { var key: String; var people: Int; var retrained: Int; var completions: Int }

    struct TrainedListDTO: Content {
        var total: Int
        var people: Int
        var retrainedPeople: Int
        var items: [TrainedDTO]
        var perInstitution: [CountDTO]
        var perCountry: [CountDTO]
    }

    /// The trained-academics list, with `institution`, `country`, `area`, `kind`, `year`, `retrained` (yes/no),
    /// `limit` (≤ 500) and `offset`, scoped to what the caller coordinates.
    func trainedAcademics(req: Request) async throws -> TrainedListDTO {
        let actor = try await req.requireActor()
        let filter = try await TrainedAcademicsRoutes.scoped(TrainedAcademicsFilter(query: req.query), actor, on: req.db)
        let limit = min(500, max(1, (try? req.query.get(Int.self, at: "limit")) ?? 100))
        let offset = max(0, (try? req.query.get(Int.self, at: "offset")) ?? 0)
        let page = try await TrainedAcademics(db: req.db).page(filter, limit: limit, offset: offset)
        let base = req.application.config.baseURL
        return TrainedListDTO(
            total: page.total, people: page.people, retrainedPeople: page.retrainedPeople,
            items: page.rows.map {
                TrainedDTO(name: $0.name, institutionId: $0.institutionID, country: $0.country, eventId: $0.eventID, event: $0.eventTitle,
                           eventKind: $0.kind, areas: $0.areas, year: $0.year, hours: $0.hours, retrained: $0.retrained,
                           completedAt: $0.completedAt, certificate: $0.certificateCode.map { "\(base)/verify/\($0)" })
            },
            perInstitution: page.perInstitution.map { CountDTO(key: $0.key, people: $0.people, retrained: $0.retrained, completions: $0.completions) },
            perCountry: page.perCountry.map { CountDTO(key: $0.key, people: $0.people, retrained: $0.retrained, completions: $0.completions) })
    }
}
