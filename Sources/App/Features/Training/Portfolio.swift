import Fluent
import Vapor

/// Whether a person's portfolio is public (off until they switch it on).
final class PortfolioSetting: Model, @unchecked Sendable {
    static let schema = "portfolio_settings"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Field(key: "is_public") var isPublic: Bool

    init() {}
}

/// A person's portfolio (DESIGN.md 3.4): trainings attended with certificates and badges, trainings delivered as
/// trainer, knowledge cases authored, Requests for Knowledge delivered; public at /portfolio/<id> when they choose.
struct PortfolioRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("portfolio", ":userID", use: show)
        let signedIn = routes.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("my", "portfolio", use: mine)
        signedIn.post("my", "portfolio", "visibility", use: setVisibility)
    }

    struct PortfolioView: Encodable {
        struct Attended: Encodable { var title: String; var href: String; var kind: String; var dates: String; var hours: String
            var certificateHref: String?; var badgeHref: String?; var revoked: Bool }
        struct Item: Encodable { var title: String; var href: String; var detail: String }
        var name: String
        var institution: String
        var own: Bool
        var isPublic: Bool
        var publicURL: String
        var certifiedTrainer: Bool
        var attended: [Attended]
        var delivered: [Item]
        var cases: [Item]
        var requests: [Item]
        var totalHours: String
    }

    func view(_ req: Request, _ user: User, own: Bool) async throws -> PortfolioView {
        let userID = try user.requireID()
        let institution = try await user.$institution.id.asyncMap { try await Institution.find($0, on: req.db) } ?? nil
        let completions = try await TrainingCompletion.query(on: req.db).filter(\.$user.$id == userID).with(\.$event).sort(\.$completedAt, .descending).all()
        let certificates = completions.isEmpty ? [] : try await Certificate.query(on: req.db).filter(\.$completion.$id ~~ completions.compactMap(\.id)).all()
        let attended = completions.map { completion -> PortfolioView.Attended in
            let certificate = certificates.first { $0.$completion.id == completion.id }
            let zone = TimeZone(identifier: completion.event.timeZone) ?? .gmt
            return .init(title: completion.event.title, href: "/events/\(completion.$event.id.uuidString)", kind: req.t(completion.event.kind.catalogKey),
                         dates: certificate.map { EventTime.display($0.firstDay, in: zone, req.locale, time: false) } ?? String(completion.year),
                         hours: req.formatNumber(completion.hours, fractionDigits: completion.hours == completion.hours.rounded() ? 0 : 1),
                         certificateHref: certificate.map { "/certificates/\($0.code)" },
                         badgeHref: certificate.map { "/badges/assertions/\($0.code)" }, revoked: certificate?.revokedAt != nil)
        }
        let delivered = try await EventTrainer.query(on: req.db).filter(\.$user.$id == userID).with(\.$event).all()
            .filter { $0.event.status == .scheduled }
            .map { PortfolioView.Item(title: $0.event.title, href: "/events/\($0.$event.id.uuidString)", detail: req.t($0.event.kind.catalogKey)) }
        // Knowledge cases: the person's published records (only public ones on the public portfolio).
        var cases: [PortfolioView.Item] = []
        for record in try await RepositoryRecord.query(on: req.db).filter(\.$owner.$id == userID).filter(\.$archivedAt == nil).all() {
            guard let number = record.publishedVersion, own || record.visibility == .public,
                  let version = try await RecordVersion.query(on: req.db).filter(\.$record.$id == record.requireID()).filter(\.$number == number).first()
            else { continue }
            cases.append(.init(title: version.title, href: "/repository/\(record.id!.uuidString)", detail: req.t("repository.type.\(version.resourceType)")))
        }
        // Requests for Knowledge delivered as the expert of an accepted offer.
        var requests: [PortfolioView.Item] = []
        if let profile = try await ExpertProfile.query(on: req.db).filter(\.$user.$id == userID).first() {
            let offers = try await RequestOffer.query(on: req.db).filter(\.$expert.$id == profile.requireID()).filter(\.$state == .accepted).with(\.$request).all()
            for offer in offers where ["delivered", "evaluated", "closed"].contains(offer.request.state) {
                requests.append(.init(title: own || offer.request.consentToShare ? offer.request.title : req.t("training.portfolio_request"),
                                      href: own ? "/requests/\(offer.$request.id.uuidString)" : "",
                                      detail: offer.request.deliveredOn.map { req.formatDate($0) } ?? ""))
            }
        }
        let setting = try await PortfolioSetting.query(on: req.db).filter(\.$userID == userID).first()
        let certified = try await TrainerCertification(db: req.db).isCertified(userID)
        let hours = completions.reduce(0) { $0 + $1.hours }
        return PortfolioView(
            name: user.name, institution: institution.map { localized($0.names, req.locale) } ?? "", own: own,
            isPublic: setting?.isPublic ?? false, publicURL: "\(req.application.config.baseURL)/portfolio/\(userID.uuidString)",
            certifiedTrainer: certified, attended: attended, delivered: delivered, cases: cases, requests: requests,
            totalHours: req.formatNumber(hours, fractionDigits: hours == hours.rounded() ? 0 : 1))
    }

    func mine(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        return try await req.page("training/portfolio", titleKey: "training.portfolio_title", titleArguments: [user.name], try await view(req, user, own: true))
    }

    /// Public only when the person switched it on (their own is always visible to them).
    func show(req: Request) async throws -> Response {
        guard let id = req.parameters.get("userID", as: UUID.self), let user = try await User.find(id, on: req.db) else { throw Abort(.notFound) }
        let own = req.auth.get(User.self)?.id == id
        if !own {
            guard try await PortfolioSetting.query(on: req.db).filter(\.$userID == id).filter(\.$isPublic == true).count() > 0 else { throw Abort(.notFound) }
        }
        return try await req.page("training/portfolio", titleKey: "training.portfolio_title", titleArguments: [user.name], try await view(req, user, own: own))
    }

    func setVisibility(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        let userID = try user.requireID()
        let isPublic = (try? req.content.get(String.self, at: "public")) == "1"
        let setting = try await PortfolioSetting.query(on: req.db).filter(\.$userID == userID).first() ?? PortfolioSetting()
        setting.userID = userID
        setting.isPublic = isPublic
        try await setting.save(on: req.db)
        req.flash("success", isPublic ? "training.portfolio_public_done" : "training.portfolio_private_done")
        return req.seeOther("/my/portfolio")
    }
}
