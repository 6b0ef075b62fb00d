import Fluent
import Vapor

/// The signed-in person's own settings: profile, password, personal access tokens.
struct ProfileRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let profile = routes.grouped(User.redirectMiddleware(path: "/signin?next=%2Fprofile")).grouped("profile")
        profile.get(use: show)
        profile.post(use: update)
        profile.post("password", use: changePassword)
        profile.post("tokens", use: createToken)
        profile.post("tokens", ":tokenID", "revoke", use: revokeToken)
    }

    struct ProfileView: Encodable {
        struct TokenRow: Encodable {
            var id: String
            var name: String
            var prefix: String
            var created: String
            var lastUsed: String
            var revoked: Bool
        }
        var form: FormState
        var passwordForm: FormState
        var tokenForm: FormState
        var locales: [Choice]
        var languages: [Choice]
        var orgUnits: [Choice]
        var tokens: [TokenRow]
        var newToken: String?
        var email: String
        var roles: [String]
    }

    func view(_ req: Request, user: User, form: FormState? = nil, passwordForm: FormState = FormState(),
              tokenForm: FormState = FormState(), newToken: String? = nil) async throws -> ProfileView {
        let form = form ?? FormState(values: ["name": user.name])
        let chosenLocale = form.values["preferred_locale"] ?? user.preferredLocale ?? ""
        let chosenLanguages = Set(form.values["languages"].map { $0.split(separator: ",").map(String.init) } ?? user.languages)
        let chosenUnit = form.values["org_unit_id"] ?? user.$orgUnit.id?.uuidString ?? ""
        let languages = try await LanguageEntry.query(on: req.db).sort(\.$tag).all()
        var units: [OrgUnit] = []
        if let institutionID = user.$institution.id {
            units = try await OrgUnit.query(on: req.db).filter(\.$institution.$id == institutionID).sort(\.$name).all()
        }
        let tokens = try await PersonalAccessToken.query(on: req.db).filter(\.$user.$id == user.requireID())
            .sort(\.$createdAt, .descending).all()
        let actor = try await req.actor()
        return ProfileView(
            form: form, passwordForm: passwordForm, tokenForm: tokenForm,
            locales: UILocale.allCases.map { .init(value: $0.rawValue, label: $0.nativeName, selected: $0.rawValue == chosenLocale) },
            languages: languages.map { .init(value: $0.tag, label: "\($0.native) (\(localized($0.names, req.locale)))", selected: chosenLanguages.contains($0.tag)) },
            orgUnits: units.map { .init(value: $0.id!.uuidString, label: $0.name, selected: $0.id?.uuidString == chosenUnit) },
            tokens: tokens.map {
                .init(id: $0.id!.uuidString, name: $0.name, prefix: $0.prefix, created: req.formatDate($0.createdAt),
                      lastUsed: req.formatDate($0.lastUsedAt, time: true), revoked: $0.revokedAt != nil)
            },
            newToken: newToken, email: user.email, roles: try await req.roleLabels(actor?.grants ?? []))
    }

    func show(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        return try await req.page("accounts/profile", titleKey: "profile.title", view(req, user: user))
    }

    struct ProfileInput: Content {
        var name: String?
        var preferred_locale: String?
        var languages: [String]?
        var org_unit_id: String?
    }

    func update(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        let input = try req.content.decode(ProfileInput.self)
        let locale = input.preferred_locale.flatMap { $0.isEmpty ? nil : $0 }
        let unit = input.org_unit_id.flatMap { $0.isEmpty ? nil : $0 }
        do {
            try await req.accounts.updateProfile(of: user, .init(
                name: input.name ?? "", languages: input.languages ?? [], preferredLocale: locale,
                orgUnitID: unit.flatMap { UUID(uuidString: $0) }))
            if let locale, let chosen = UILocale(rawValue: locale) { req.locale = chosen }
            req.flash("success", "profile.saved")
            return req.seeOther("/profile")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["name": input.name ?? "", "preferred_locale": locale ?? "",
                                          "languages": (input.languages ?? []).joined(separator: ","), "org_unit_id": unit ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("accounts/profile", titleKey: "profile.title", view(req, user: user, form: form),
                                      status: .unprocessableEntity)
        }
    }

    func changePassword(req: Request) async throws -> Response {
        struct Input: Content { var current_password: String?; var new_password: String? }
        let user = try req.auth.require(User.self)
        let input = try req.content.decode(Input.self)
        do {
            try await req.accounts.changePassword(of: user, current: input.current_password ?? "", new: input.new_password ?? "")
            req.flash("success", "profile.password_changed")
            return req.seeOther("/profile")
        } catch let errors as FieldErrors {
            var form = FormState()
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("accounts/profile", titleKey: "profile.title", view(req, user: user, passwordForm: form),
                                      status: .unprocessableEntity)
        }
    }

    func createToken(req: Request) async throws -> Response {
        struct Input: Content { var token_name: String? }
        let user = try req.auth.require(User.self)
        let input = try req.content.decode(Input.self)
        do {
            let (_, secret) = try await req.accounts.createToken(for: user, name: input.token_name ?? "")
            return try await req.page("accounts/profile", titleKey: "profile.title", view(req, user: user, newToken: secret),
                                      status: .created)
        } catch let errors as FieldErrors {
            var form = FormState(values: ["token_name": input.token_name ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("accounts/profile", titleKey: "profile.title", view(req, user: user, tokenForm: form),
                                      status: .unprocessableEntity)
        }
    }

    func revokeToken(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        guard let tokenID = req.parameters.get("tokenID", as: UUID.self) else { throw Abort(.notFound) }
        try await req.accounts.revokeToken(tokenID, of: user)
        req.flash("success", "profile.token_revoked")
        return req.seeOther("/profile")
    }
}
