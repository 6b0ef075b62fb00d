import Fluent
import Vapor

/// Sign-up, sign-in, sign-out, password reset, invitations, the language switcher.
struct AccountRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("signup", use: signUpForm)
        routes.post("signup", use: signUp)
        routes.get("signin", use: signInForm)
        routes.post("signin", use: signIn)
        routes.post("signout", use: signOut)
        routes.post("language", use: switchLanguage)
        routes.get("password", "forgot", use: forgotForm)
        routes.post("password", "forgot", use: forgot)
        routes.get("password", "reset", ":token", use: resetForm)
        routes.post("password", "reset", ":token", use: reset)
        routes.get("invitations", ":token", use: invitationForm)
        routes.post("invitations", ":token", use: acceptInvitation)
    }

    // MARK: sign-up

    struct SignUpView: Encodable {
        var form: FormState
        var institutions: [Choice]
        var done: Bool
    }

    struct SignUpInput: Content {
        var name: String?
        var email: String?
        var password: String?
        var institution_id: String?
    }

    func institutionOptions(_ req: Request, selected: String?) async throws -> [Choice] {
        try await Institution.query(on: req.db).all()
            .map { Choice(value: $0.id!.uuidString, label: localized($0.names, req.locale), selected: $0.id?.uuidString == selected) }
            .sorted { $0.label.localizedCompare($1.label) == .orderedAscending }
    }

    func signUpForm(req: Request) async throws -> Response {
        try await req.page("accounts/signup", titleKey: "signup.title",
                           SignUpView(form: FormState(), institutions: institutionOptions(req, selected: nil), done: false))
    }

    func signUp(req: Request) async throws -> Response {
        let input = try req.content.decode(SignUpInput.self)
        var form = FormState(values: ["name": input.name ?? "", "email": input.email ?? "", "institution_id": input.institution_id ?? ""])
        do {
            _ = try await req.accounts.signUp(.init(
                name: input.name ?? "", email: input.email ?? "", password: input.password ?? "",
                institutionID: input.institution_id.flatMap { UUID(uuidString: $0) }, locale: req.locale))
            return try await req.page("accounts/signup", titleKey: "signup.title",
                                      SignUpView(form: FormState(), institutions: [], done: true))
        } catch let errors as FieldErrors {
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("accounts/signup", titleKey: "signup.title",
                                      SignUpView(form: form, institutions: institutionOptions(req, selected: input.institution_id), done: false),
                                      status: .unprocessableEntity)
        }
    }

    // MARK: sign-in

    struct SignInView: Encodable {
        var form: FormState
        var next: String
    }

    struct SignInInput: Content {
        var email: String?
        var password: String?
        var next: String?
    }

    /// Only local paths are followed after sign-in.
    static func safeNext(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\") else { return "/" }
        return raw
    }

    func signInForm(req: Request) async throws -> Response {
        if req.auth.has(User.self) { return req.seeOther("/") }
        return try await req.page("accounts/signin", titleKey: "signin.title",
                                  SignInView(form: FormState(), next: Self.safeNext(req.query[String.self, at: "next"])))
    }

    func signIn(req: Request) async throws -> Response {
        let input = try req.content.decode(SignInInput.self)
        let outcome = try await req.accounts.signIn(email: input.email ?? "", password: input.password ?? "",
                                                    address: req.auditContext.ip)
        let key: String
        switch outcome {
        case .success(let userID):
            guard let user = try await User.find(userID, on: req.db) else { throw Abort(.internalServerError) }
            // A fresh session on sign-in, so a session id planted before sign-in is worthless.
            try await req.rotateSession(keeping: user.preferredLocale == nil ? ["locale"] : [])
            req.auth.login(user)
            req.session.authenticate(user)
            return req.seeOther(Self.safeNext(input.next))
        case .invalid: key = "signin.error.invalid"
        case .locked: key = "signin.error.locked"
        case .pending: key = "signin.error.pending"
        case .disabled: key = "signin.error.disabled"
        case .tooManyAttempts: key = "signin.error.too_many"
        }
        var form = FormState(values: ["email": input.email ?? ""])
        form.add("email", req.t(key))
        let status: HTTPStatus = outcome == .tooManyAttempts ? .tooManyRequests : .unauthorized
        return try await req.page("accounts/signin", titleKey: "signin.title",
                                  SignInView(form: form, next: Self.safeNext(input.next)), status: status)
    }

    func signOut(req: Request) async throws -> Response {
        if let user = req.auth.get(User.self) {
            try await req.auditContext.record(.signOut, user.email, on: req.db)
        }
        req.auth.logout(User.self)
        req.session.unauthenticate(User.self)
        try await req.rotateSession(keeping: ["locale"])
        return req.seeOther("/")
    }

    // MARK: language

    struct LanguageInput: Content {
        var lang: String
        var back: String?
    }

    /// The switcher: remembers the choice in the session and, when signed in, in the person's settings.
    func switchLanguage(req: Request) async throws -> Response {
        let input = try req.content.decode(LanguageInput.self)
        guard let locale = UILocale(rawValue: input.lang) else { throw Abort(.badRequest, reason: "Unknown language") }
        req.session.data["locale"] = locale.rawValue
        if let user = req.auth.get(User.self) {
            user.preferredLocale = locale.rawValue
            try await user.save(on: req.db)
        }
        var back = Self.safeNext(input.back)
        // Drop an explicit ?lang= from the page we return to, or it would override the choice.
        if let range = back.range(of: "?") {
            let path = String(back[..<range.lowerBound])
            let query = back[range.upperBound...].split(separator: "&").filter { !$0.hasPrefix("lang=") }
            back = query.isEmpty ? path : path + "?" + query.joined(separator: "&")
        }
        return req.seeOther(back)
    }

    // MARK: password reset

    struct EmailView: Encodable {
        var form: FormState
        var sent: Bool
    }

    func forgotForm(req: Request) async throws -> Response {
        try await req.page("accounts/forgot", titleKey: "forgot.title", EmailView(form: FormState(), sent: false))
    }

    func forgot(req: Request) async throws -> Response {
        struct Input: Content { var email: String? }
        let input = try req.content.decode(Input.self)
        do {
            try await req.accounts.requestPasswordReset(email: input.email ?? "", locale: req.locale)
            return try await req.page("accounts/forgot", titleKey: "forgot.title", EmailView(form: FormState(), sent: true))
        } catch let errors as FieldErrors {
            var form = FormState(values: ["email": input.email ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("accounts/forgot", titleKey: "forgot.title", EmailView(form: form, sent: false),
                                      status: .unprocessableEntity)
        }
    }

    struct ResetView: Encodable {
        var form: FormState
        var token: String
        var valid: Bool
    }

    func resetForm(req: Request) async throws -> Response {
        let token = try req.parameters.require("token")
        let valid = try await req.accounts.usableLink(token, purpose: .passwordReset) != nil
        return try await req.page("accounts/reset", titleKey: "reset.title", ResetView(form: FormState(), token: token, valid: valid),
                                  status: valid ? .ok : .gone)
    }

    func reset(req: Request) async throws -> Response {
        struct Input: Content { var password: String? }
        let token = try req.parameters.require("token")
        let input = try req.content.decode(Input.self)
        do {
            try await req.accounts.resetPassword(token: token, password: input.password ?? "")
            req.flash("success", "reset.done")
            return req.seeOther("/signin")
        } catch let errors as FieldErrors {
            var form = FormState()
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("accounts/reset", titleKey: "reset.title", ResetView(form: form, token: token, valid: true),
                                      status: .unprocessableEntity)
        } catch let abort as Abort where abort.status == .gone {
            return try await req.page("accounts/reset", titleKey: "reset.title", ResetView(form: FormState(), token: token, valid: false),
                                      status: .gone)
        }
    }

    // MARK: invitations

    struct InvitationView: Encodable {
        var form: FormState
        var token: String
        var valid: Bool
        var email: String
        var institution: String
        var role: String
    }

    func invitationView(_ req: Request, token: String, form: FormState) async throws -> InvitationView {
        guard let link = try await req.accounts.usableLink(token, purpose: .invitation) else {
            return InvitationView(form: form, token: token, valid: false, email: "", institution: "", role: "")
        }
        let institution = try await link.institutionID.asyncMap { try await Institution.find($0, on: req.db) } ?? nil
        return InvitationView(form: form, token: token, valid: true, email: link.email,
                              institution: institution.map { localized($0.names, req.locale) } ?? "",
                              role: req.t("role.\(link.role ?? "staff")"))
    }

    func invitationForm(req: Request) async throws -> Response {
        let token = try req.parameters.require("token")
        let view = try await invitationView(req, token: token, form: FormState())
        return try await req.page("accounts/invitation", titleKey: "invitation.title", view, status: view.valid ? .ok : .gone)
    }

    func acceptInvitation(req: Request) async throws -> Response {
        struct Input: Content { var name: String?; var password: String? }
        let token = try req.parameters.require("token")
        let input = try req.content.decode(Input.self)
        do {
            let user = try await req.accounts.acceptInvitation(token: token, name: input.name ?? "", password: input.password ?? "",
                                                               locale: req.locale)
            // Someone nominated from a needs-analysis declaration gets the expert profile of what they declared.
            try await req.nominations.claimDeclarations(for: user)
            try await req.rotateSession()
            req.auth.login(user)
            req.session.authenticate(user)
            req.flash("success", "invitation.welcome")
            return req.seeOther("/")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["name": input.name ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            let view = try await invitationView(req, token: token, form: form)
            return try await req.page("accounts/invitation", titleKey: "invitation.title", view, status: .unprocessableEntity)
        } catch let abort as Abort where abort.status == .gone {
            let view = try await invitationView(req, token: token, form: FormState())
            return try await req.page("accounts/invitation", titleKey: "invitation.title", view, status: .gone)
        }
    }
}
