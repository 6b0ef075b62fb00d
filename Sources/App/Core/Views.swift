import Fluent
import Leaf
import Vapor

/// What the layout needs on every page: title, language, the person, navigation, CSRF token, flash messages.
struct PageMeta: Encodable {
    struct LocaleOption: Encodable {
        var tag: String
        var name: String
        var current: Bool
    }
    struct UserSummary: Encodable {
        var name: String
        var email: String
        var institution: String?
        var roles: [String]
    }
    struct NavItem: Encodable {
        var id: String
        var href: String
        var label: String
        var current: Bool
    }
    struct Flash: Codable {
        var kind: String
        var text: String
    }

    var title: String
    var locale: String
    var locales: [LocaleOption]
    var user: UserSummary?
    var nav: [NavItem]
    var csrf: String
    var flash: [Flash]
    var path: String
    /// Unread inbox entries of the signed-in person.
    var unread: Int = 0
}

/// One entry of a select, radio group or checkbox list.
struct Choice: Encodable {
    var value: String
    var label: String
    var selected: Bool
}

/// The value every template receives: `page` for the layout and `content` for the page itself.
struct Page<Content: Encodable>: Encodable {
    var page: PageMeta
    var content: Content
}

/// A form's typed values and its errors, so a rejected form comes back as the person left it.
struct FormState: Encodable {
    var values: [String: String] = [:]
    var errors: [String: String] = [:]
    var hasErrors: Bool { !errors.isEmpty }
    /// The summary at the top, in field order.
    var summary: [FieldError] = []

    struct FieldError: Encodable {
        var field: String
        var message: String
    }

    private enum CodingKeys: String, CodingKey { case values, errors, hasErrors, summary }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(values, forKey: .values)
        try container.encode(errors, forKey: .errors)
        try container.encode(hasErrors, forKey: .hasErrors)
        try container.encode(summary, forKey: .summary)
    }

    mutating func add(_ field: String, _ message: String) {
        guard errors[field] == nil else { return }
        errors[field] = message
        summary.append(FieldError(field: field, message: message))
    }
}

extension Request {
    /// Renders `template` inside the layout. `titleKey` is a catalog key.
    func page<Content: Encodable>(_ template: String, titleKey: String, titleArguments: [String] = [],
                                  _ content: Content, status: HTTPStatus = .ok) async throws -> Response {
        let meta = try await pageMeta(title: application.catalog.text(titleKey, locale, titleArguments))
        let view = try await self.view.render(template, Page(page: meta, content: content))
        let response = try await view.encodeResponse(status: status, for: self)
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    func pageMeta(title: String) async throws -> PageMeta {
        let user = auth.get(User.self)
        let actor = try await self.actor()
        var summary: PageMeta.UserSummary?
        if let user {
            var institutionName: String?
            if let institutionID = user.$institution.id, let institution = try await Institution.find(institutionID, on: db) {
                institutionName = localized(institution.names, locale)
            }
            summary = .init(name: user.name, email: user.email, institution: institutionName,
                            roles: try await roleLabels(actor?.grants ?? []))
        }
        let path = url.path
        return PageMeta(
            title: title,
            locale: locale.rawValue,
            locales: UILocale.allCases.map { .init(tag: $0.rawValue, name: $0.nativeName, current: $0 == locale) },
            user: summary,
            nav: navigation(for: actor, path: path),
            csrf: csrfToken,
            flash: takeFlash(),
            path: path,
            unread: try await user.asyncMap { try await Notifier.unread($0.requireID(), on: db) } ?? 0)
    }

    /// Role names with their scope, e.g. "Institutional coordinator · UT".
    func roleLabels(_ grants: [RoleGrant]) async throws -> [String] {
        var labels: [String] = []
        for grant in grants.sorted(by: { $0.role.rank < $1.role.rank }) {
            let name = t(grant.role.catalogKey)
            switch grant.role.scopeKind {
            case .platform:
                labels.append(name)
            case .country:
                labels.append("\(name) · \(grant.scopeID ?? "")")
            case .institution:
                let institution = try await grant.scopeID.flatMap { UUID(uuidString: $0) }.asyncMap { try await Institution.find($0, on: db) } ?? nil
                labels.append("\(name) · \(institution?.shortName ?? "?")")
            }
        }
        return labels
    }

    func navigation(for actor: Actor?, path: String) -> [PageMeta.NavItem] {
        var items: [(String, String, String)] = [("nav-home", "/", "nav.home")]
        items.append(("nav-repository", "/repository", "nav.repository"))
        items.append(("nav-experts", "/experts", "nav.experts"))
        items.append(("nav-training", "/training", "nav.training"))
        items.append(("nav-events", "/events", "nav.events"))
        items.append(("nav-courses", "/courses", "nav.courses"))
        if actor != nil { items.append(("nav-requests", "/requests", "nav.requests")) }
        items.append(("nav-institutions", "/institutions", "nav.institutions"))
        items.append(("nav-areas", "/areas", "nav.areas"))
        if let actor {
            if actor.isCoordinator {
                items.append(("nav-campaigns", "/campaigns", "nav.campaigns"))
                items.append(("nav-coordination", "/coordination", "nav.coordination"))
                items.append(("nav-trained", "/trained-academics", "nav.trained"))
                items.append(("nav-moodle", "/moodle", "nav.moodle"))
                items.append(("nav-approvals", "/approvals", "nav.approvals"))
                items.append(("nav-members", "/members", "nav.members"))
            }
            if actor.holds(.curator) || actor.isCoordinator {
                items.append(("nav-review", "/repository/review", "nav.review"))
            }
            if actor.isAdmin {
                items.append(("nav-admin", "/admin", "nav.admin"))
            }
            items.append(("nav-profile", "/profile", "nav.profile"))
        }
        return items.map { id, href, key in
            let current = href == "/" ? path == "/" : (path.hasPrefix(href) && !(href == "/repository" && path.hasPrefix("/repository/review")))
            return .init(id: id, href: href, label: t(key), current: current)
        }
    }

    // MARK: flash messages (shown once on the next page)

    func flash(_ kind: String, _ key: String, _ arguments: String...) {
        var list = (session.data["flash"].flatMap { try? JSONDecoder().decode([PageMeta.Flash].self, from: Data($0.utf8)) }) ?? []
        list.append(.init(kind: kind, text: application.catalog.text(key, locale, arguments)))
        session.data["flash"] = String(decoding: try! JSONEncoder().encode(list), as: UTF8.self)
    }

    func takeFlash() -> [PageMeta.Flash] {
        guard hasSession, let raw = session.data["flash"] else { return [] }
        session.data["flash"] = nil
        return (try? JSONDecoder().decode([PageMeta.Flash].self, from: Data(raw.utf8))) ?? []
    }

    /// A redirect after a successful POST (303 so the browser follows with GET).
    func seeOther(_ location: String) -> Response {
        redirect(to: location, redirectType: .normal)
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

func configureViews(_ app: Application) {
    app.views.use(.leaf)
    app.leaf.tags["t"] = TranslateTag()
    app.leaf.cache.isEnabled = app.environment.isRelease
}
