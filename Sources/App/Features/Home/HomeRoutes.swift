import Fluent
import Vapor

/// The home dashboard: what this person can do next, by role.
struct HomeRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get(use: home)
    }

    struct HomeView: Encodable {
        struct Action: Encodable {
            var id: String
            var href: String
            var title: String
            var text: String
        }
        struct Figure: Encodable {
            var label: String
            var value: String
        }
        var signedIn: Bool
        var name: String?
        var actions: [Action]
        var figures: [Figure]
    }

    func home(req: Request) async throws -> Response {
        let user = req.auth.get(User.self)
        let actor = try await req.actor()
        var actions: [HomeView.Action] = []
        func add(_ id: String, _ href: String, _ key: String, _ args: String...) {
            actions.append(.init(id: id, href: href, title: req.t("home.action.\(key).title"),
                                 text: req.application.catalog.text("home.action.\(key).text", req.locale, args)))
        }
        if let actor, let user {
            if actor.isCoordinator {
                let campaigns = try await req.campaigns.campaigns(for: actor)
                add("action-campaigns", "/campaigns", "campaigns", req.formatNumber(Double(campaigns.count)),
                    req.formatNumber(Double(campaigns.filter { $0.state == .open }.count)))
                let pending = try await req.accounts.pendingSignUps(for: actor).count
                add("action-approvals", "/approvals", "approvals", req.formatNumber(Double(pending)))
                add("action-members", "/members", "members")
            }
            if let place = actor.home, actor.canManage(place) {
                let id = place.institutionID.uuidString
                let hasStructure = try await IaHStructure.query(on: req.db).filter(\.$institution.$id == place.institutionID).first() != nil
                add("action-institution", "/institutions/\(id)", "institution")
                if !hasStructure { add("action-structure", "/institutions/\(id)/structure", "structure") }
            }
            if actor.isAdmin {
                add("action-admin", "/admin", "admin")
                add("action-reference", "/admin/reference", "reference")
            }
            if user.$orgUnit.id == nil || user.languages.isEmpty {
                add("action-profile", "/profile", "profile")
            }
            add("action-areas", "/areas", "areas")
            add("action-tokens", "/profile#tokens", "tokens")
        } else {
            add("action-signin", "/signin", "signin")
            add("action-signup", "/signup", "signup")
            add("action-areas", "/areas", "areas")
            add("action-institutions", "/institutions", "institutions")
        }
        let figures: [HomeView.Figure] = [
            .init(label: req.t("home.figure.institutions"), value: req.formatNumber(Double(try await Institution.query(on: req.db).count()))),
            .init(label: req.t("home.figure.countries"), value: req.formatNumber(Double(try await Country.query(on: req.db).count()))),
            .init(label: req.t("home.figure.areas"), value: req.formatNumber(Double(try await Area.query(on: req.db).count()))),
        ]
        return try await req.page("home", titleKey: user == nil ? "home.title" : "home.title_signed_in",
                                  HomeView(signedIn: user != nil, name: user?.name, actions: actions, figures: figures))
    }
}
