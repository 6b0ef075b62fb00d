import Fluent
import Vapor

/// Field errors as catalog keys: field name → key.
struct FieldErrors: Error, Equatable {
    var fields: [(String, String)]
    static func == (a: FieldErrors, b: FieldErrors) -> Bool { a.fields.map { "\($0)=\($1)" } == b.fields.map { "\($0)=\($1)" } }
    init(_ fields: [(String, String)]) { self.fields = fields }
    subscript(field: String) -> String? { fields.first { $0.0 == field }?.1 }
}

/// Checks that do not need the database.
enum AccountRules {
    static let minimumPasswordLength = 10
    static let maximumPasswordLength = 128
    static let maxFailuresPerAccount = 5
    static let maxFailuresPerAddress = 20
    static let lockDuration: TimeInterval = 15 * 60
    static let throttleWindow: TimeInterval = 15 * 60
    static let resetLinkLifetime: TimeInterval = 60 * 60
    static let invitationLifetime: TimeInterval = 7 * 24 * 60 * 60

    static func normalizedEmail(_ raw: String) -> String {
        raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// A practical check: one @, a dot in the domain, no spaces or angle brackets, sane lengths.
    static func isValidEmail(_ email: String) -> Bool {
        guard email.count <= 254, !email.contains(where: { $0.isWhitespace || "<>()[],;:\\\"".contains($0) }) else { return false }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return false }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }
            && (labels.last?.count ?? 0) >= 2
    }

    static func passwordProblem(_ password: String) -> String? {
        if password.count < minimumPasswordLength { return "validation.password_short" }
        if password.count > maximumPasswordLength { return "validation.password_long" }
        return nil
    }

    static func nameProblem(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return "validation.name_required" }
        if trimmed.count > 200 { return "validation.name_long" }
        return nil
    }
}

/// Accounts: sign-up and approval, invitations, sign-in with throttling, password reset, profile, tokens.
/// Takes a database and collaborators, never a `Request`; every rule and permission check lives here.
struct AccountService {
    let db: any Database
    let mailer: any Mailer
    let catalog: Catalog
    let baseURL: String
    let audit: AuditContext
    var bcryptCost: Int = 12
    var now: @Sendable () -> Date = { Date() }

    // MARK: sign-up and approval

    struct SignUp {
        var name: String
        var email: String
        var password: String
        var institutionID: UUID?
        var locale: UILocale
    }

    func signUp(_ input: SignUp) async throws -> User {
        var errors: [(String, String)] = []
        let email = AccountRules.normalizedEmail(input.email)
        if let problem = AccountRules.nameProblem(input.name) { errors.append(("name", problem)) }
        if email.isEmpty {
            errors.append(("email", "validation.email_required"))
        } else if !AccountRules.isValidEmail(email) {
            errors.append(("email", "validation.email_invalid"))
        } else if try await User.query(on: db).filter(\.$email == email).first() != nil {
            errors.append(("email", "validation.email_taken"))
        }
        if let problem = AccountRules.passwordProblem(input.password) { errors.append(("password", problem)) }
        var institution: Institution?
        if let id = input.institutionID { institution = try await Institution.find(id, on: db) }
        if institution == nil { errors.append(("institution_id", "validation.institution_required")) }
        guard errors.isEmpty, let institution else { throw FieldErrors(errors) }

        let user = User(email: email, name: input.name.trimmingCharacters(in: .whitespacesAndNewlines),
                        passwordHash: try Bcrypt.hash(input.password, cost: bcryptCost), status: .pending,
                        institutionID: try institution.requireID(), preferredLocale: input.locale.rawValue)
        try await user.create(on: db)
        try await audit.record(.signUp, "\(email) at \(institution.shortName)", on: db)
        for coordinator in try await coordinators(of: institution) {
            let locale = UILocale(rawValue: coordinator.preferredLocale ?? "") ?? .en
            try await mailer.send(MailMessage(
                to: coordinator.email,
                subject: catalog.text("mail.approval_needed.subject", locale),
                body: catalog.text("mail.approval_needed.body", locale, [user.name, email, "\(baseURL)/approvals"])), on: db)
        }
        return user
    }

    /// The people who approve sign-ups at an institution: its coordinators, else the country's, else admins.
    func coordinators(of institution: Institution) async throws -> [User] {
        let id = try institution.requireID().uuidString
        var found = try await usersWithRole(.institutionalCoordinator, scope: id)
        if found.isEmpty { found = try await usersWithRole(.nationalCoordinator, scope: institution.countryCode) }
        if found.isEmpty { found = try await usersWithRole(.admin, scope: nil) }
        return found
    }

    private func usersWithRole(_ role: Role, scope: String?) async throws -> [User] {
        var query = RoleAssignment.query(on: db).filter(\.$role == role.rawValue)
        query = scope.map { query.filter(\.$scopeID == $0) } ?? query
        let ids = try await query.all().map(\.$user.id)
        guard !ids.isEmpty else { return [] }
        return try await User.query(on: db).filter(\.$id ~~ ids).filter(\.$status == .active).all()
    }

    /// Pending sign-ups the actor may decide on.
    func pendingSignUps(for actor: Actor) async throws -> [(User, Institution)] {
        let pending = try await User.query(on: db).filter(\.$status == .pending).sort(\.$createdAt).with(\.$institution).all()
        return pending.compactMap { user in
            guard let institution = user.institution, let place = institution.place, actor.canManage(place) else { return nil }
            return (user, institution)
        }
    }

    func decide(on userID: UUID, approve: Bool, by actor: Actor) async throws -> User {
        guard let user = try await User.find(userID, on: db), user.status == .pending else {
            throw Abort(.notFound)
        }
        guard let institution = try await user.$institution.get(on: db), let place = institution.place,
              actor.canManage(place) else {
            throw Forbidden()
        }
        let locale = UILocale(rawValue: user.preferredLocale ?? "") ?? .en
        try await db.transaction { db in
            user.status = approve ? .active : .rejected
            try await user.save(on: db)
            if approve {
                try await RoleAssignment(userID: user.requireID(), role: .staff, scopeID: institution.requireID().uuidString,
                                         grantedByID: actor.userID).create(on: db)
            }
            try await audit.record(approve ? .accountApproved : .accountRejected, user.email, on: db)
        }
        let key = approve ? "mail.approved" : "mail.rejected"
        try await mailer.send(MailMessage(
            to: user.email, subject: catalog.text(key + ".subject", locale),
            body: catalog.text(key + ".body", locale, [user.name, "\(baseURL)/signin"])), on: db)
        return user
    }

    // MARK: sign-in

    enum SignInOutcome: Equatable {
        case success(UUID)
        case invalid
        case locked
        case pending
        case disabled
        case tooManyAttempts
    }

    func signIn(email rawEmail: String, password: String, address: String?) async throws -> SignInOutcome {
        let email = AccountRules.normalizedEmail(rawEmail)
        let addressKey = "ip:\(address ?? "unknown")"
        if try await failures(for: addressKey) >= AccountRules.maxFailuresPerAddress {
            try await audit.record(.signInLocked, "address \(address ?? "unknown")", on: db)
            return .tooManyAttempts
        }
        guard let user = try await User.query(on: db).filter(\.$email == email).first() else {
            // Hash anyway so a missing account takes as long as a wrong password.
            _ = try? Bcrypt.verify(password, created: Self.dummyHash)
            try await recordFailure(addressKey)
            try await audit.record(.signInFailed, email, on: db)
            return .invalid
        }
        if let lockedUntil = user.lockedUntil, lockedUntil > now() {
            try await audit.record(.signInLocked, email, on: db)
            return .locked
        }
        guard (try? Bcrypt.verify(password, created: user.passwordHash)) == true else {
            try await recordFailure(addressKey)
            user.failedSignIns += 1
            var outcome = SignInOutcome.invalid
            if user.failedSignIns >= AccountRules.maxFailuresPerAccount {
                user.lockedUntil = now().addingTimeInterval(AccountRules.lockDuration)
                user.failedSignIns = 0
                outcome = .locked
            }
            try await user.save(on: db)
            try await audit.record(outcome == .locked ? .signInLocked : .signInFailed, email, on: db)
            return outcome
        }
        switch user.status {
        case .pending: return .pending
        case .rejected, .disabled: return .disabled
        case .active: break
        }
        user.failedSignIns = 0
        user.lockedUntil = nil
        user.lastSignInAt = now()
        try await user.save(on: db)
        var signedIn = audit
        signedIn.actorID = user.id
        signedIn.actorEmail = user.email
        try await signedIn.record(.signIn, email, on: db)
        return .success(try user.requireID())
    }

    static let dummyHash = "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5Qx6xN0b1r8x9YV7Yb6tBNaRrFZgKse"

    private func failures(for key: String) async throws -> Int {
        guard let throttle = try await SignInThrottle.query(on: db).filter(\.$key == key).first() else { return 0 }
        return throttle.windowStart.addingTimeInterval(AccountRules.throttleWindow) < now() ? 0 : throttle.failures
    }

    private func recordFailure(_ key: String) async throws {
        if let throttle = try await SignInThrottle.query(on: db).filter(\.$key == key).first() {
            if throttle.windowStart.addingTimeInterval(AccountRules.throttleWindow) < now() {
                throttle.windowStart = now()
                throttle.failures = 1
            } else {
                throttle.failures += 1
            }
            try await throttle.save(on: db)
        } else {
            try await SignInThrottle(key: key, failures: 1, windowStart: now()).create(on: db)
        }
    }

    // MARK: invitations

    /// Invite someone by email to an institution with a role the actor may grant there.
    func invite(email rawEmail: String, role: Role, institutionID: UUID?, by actor: Actor, locale: UILocale) async throws -> String {
        let email = AccountRules.normalizedEmail(rawEmail)
        var errors: [(String, String)] = []
        if !AccountRules.isValidEmail(email) {
            errors.append(("email", "validation.email_invalid"))
        } else if try await User.query(on: db).filter(\.$email == email).first() != nil {
            errors.append(("email", "validation.email_taken"))
        }
        let institution = try await institutionID.asyncMap { try await Institution.find($0, on: db) } ?? nil
        if institution == nil { errors.append(("institution_id", "validation.institution_required")) }
        guard errors.isEmpty, let institution, let place = institution.place else { throw FieldErrors(errors) }
        guard role.scopeKind == .institution,
              actor.canGrant(RoleGrant(role: role, scopeID: place.institutionID.uuidString), place: place) else {
            throw Forbidden()
        }
        let token = SecureToken.make()
        try await OneTimeLink(purpose: .invitation, tokenHash: SecureToken.hash(token), email: email, userID: nil,
                              institutionID: place.institutionID, role: role.rawValue, createdByID: actor.userID,
                              expiresAt: now().addingTimeInterval(AccountRules.invitationLifetime)).create(on: db)
        let link = "\(baseURL)/invitations/\(token)"
        try await mailer.send(MailMessage(
            to: email, subject: catalog.text("mail.invitation.subject", locale, [localized(institution.names, locale)]),
            body: catalog.text("mail.invitation.body", locale, [localized(institution.names, locale), catalog.text(role.catalogKey, locale), link])),
            on: db)
        try await audit.record(.invitationSent, "\(email) as \(role.rawValue) at \(institution.shortName)", on: db)
        return token
    }

    /// A link that is still usable, or nil (unknown, used, or expired).
    func usableLink(_ token: String, purpose: OneTimeLink.Purpose) async throws -> OneTimeLink? {
        guard let link = try await OneTimeLink.query(on: db)
            .filter(\.$tokenHash == SecureToken.hash(token)).filter(\.$purpose == purpose).first(),
            link.usedAt == nil, link.expiresAt > now() else { return nil }
        return link
    }

    func acceptInvitation(token: String, name: String, password: String, locale: UILocale) async throws -> User {
        guard let link = try await usableLink(token, purpose: .invitation) else { throw Abort(.gone, reason: "link") }
        var errors: [(String, String)] = []
        if let problem = AccountRules.nameProblem(name) { errors.append(("name", problem)) }
        if let problem = AccountRules.passwordProblem(password) { errors.append(("password", problem)) }
        if try await User.query(on: db).filter(\.$email == link.email).first() != nil { errors.append(("email", "validation.email_taken")) }
        guard errors.isEmpty else { throw FieldErrors(errors) }
        let hash = try Bcrypt.hash(password, cost: bcryptCost)
        return try await db.transaction { db in
            let user = User(email: link.email, name: name.trimmingCharacters(in: .whitespacesAndNewlines), passwordHash: hash,
                            status: .active, institutionID: link.institutionID, preferredLocale: locale.rawValue)
            try await user.create(on: db)
            let role = Role(rawValue: link.role ?? "") ?? .staff
            let scope = link.institutionID?.uuidString
            try await RoleAssignment(userID: user.requireID(), role: role, scopeID: scope, grantedByID: link.createdByID).create(on: db)
            if role != .staff {
                try await RoleAssignment(userID: user.requireID(), role: .staff, scopeID: scope, grantedByID: link.createdByID).create(on: db)
            }
            link.usedAt = now()
            try await link.save(on: db)
            try await audit.record(.invitationAccepted, link.email, on: db)
            return user
        }
    }

    // MARK: passwords

    /// Sends a reset link if the account exists. Says nothing about whether it does.
    func requestPasswordReset(email rawEmail: String, locale: UILocale) async throws {
        let email = AccountRules.normalizedEmail(rawEmail)
        guard AccountRules.isValidEmail(email) else { throw FieldErrors([("email", "validation.email_invalid")]) }
        guard let user = try await User.query(on: db).filter(\.$email == email).first(), user.status == .active else { return }
        let token = SecureToken.make()
        try await OneTimeLink(purpose: .passwordReset, tokenHash: SecureToken.hash(token), email: email, userID: user.id,
                              institutionID: nil, role: nil, createdByID: nil,
                              expiresAt: now().addingTimeInterval(AccountRules.resetLinkLifetime)).create(on: db)
        let userLocale = UILocale(rawValue: user.preferredLocale ?? "") ?? locale
        try await mailer.send(MailMessage(
            to: email, subject: catalog.text("mail.reset.subject", userLocale),
            body: catalog.text("mail.reset.body", userLocale, [user.name, "\(baseURL)/password/reset/\(token)"])), on: db)
        try await audit.record(.passwordResetRequested, email, on: db)
    }

    func resetPassword(token: String, password: String) async throws {
        guard let link = try await usableLink(token, purpose: .passwordReset), let userID = link.userID,
              let user = try await User.find(userID, on: db) else { throw Abort(.gone, reason: "link") }
        if let problem = AccountRules.passwordProblem(password) { throw FieldErrors([("password", problem)]) }
        user.passwordHash = try Bcrypt.hash(password, cost: bcryptCost)
        user.failedSignIns = 0
        user.lockedUntil = nil
        link.usedAt = now()
        try await db.transaction { db in
            try await user.save(on: db)
            try await link.save(on: db)
            try await audit.record(.passwordReset, user.email, on: db)
        }
    }

    func changePassword(of user: User, current: String, new: String) async throws {
        var errors: [(String, String)] = []
        if (try? Bcrypt.verify(current, created: user.passwordHash)) != true { errors.append(("current_password", "validation.password_wrong")) }
        if let problem = AccountRules.passwordProblem(new) { errors.append(("new_password", problem)) }
        guard errors.isEmpty else { throw FieldErrors(errors) }
        user.passwordHash = try Bcrypt.hash(new, cost: bcryptCost)
        try await user.save(on: db)
        try await audit.record(.passwordChanged, user.email, on: db)
    }

    // MARK: profile

    struct ProfileUpdate {
        var name: String
        var languages: [String]
        var preferredLocale: String?
        var orgUnitID: UUID?
    }

    func updateProfile(of user: User, _ update: ProfileUpdate) async throws {
        var errors: [(String, String)] = []
        if let problem = AccountRules.nameProblem(update.name) { errors.append(("name", problem)) }
        if let locale = update.preferredLocale, UILocale(rawValue: locale) == nil { errors.append(("preferred_locale", "validation.locale_unknown")) }
        let known = Set(try await LanguageEntry.query(on: db).all().map(\.tag))
        if update.languages.contains(where: { !known.contains($0) }) { errors.append(("languages", "validation.language_unknown")) }
        if let unitID = update.orgUnitID {
            let unit = try await OrgUnit.find(unitID, on: db)
            if unit == nil || unit?.$institution.id != user.$institution.id { errors.append(("org_unit_id", "validation.org_unit_invalid")) }
        }
        guard errors.isEmpty else { throw FieldErrors(errors) }
        user.name = update.name.trimmingCharacters(in: .whitespacesAndNewlines)
        user.languages = update.languages
        user.preferredLocale = update.preferredLocale
        user.$orgUnit.id = update.orgUnitID
        try await user.save(on: db)
    }

    // MARK: personal access tokens

    /// Creates a token and returns its secret, shown once.
    func createToken(for user: User, name rawName: String) async throws -> (PersonalAccessToken, String) {
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 100 else { throw FieldErrors([("token_name", "validation.token_name")]) }
        let secret = "ibt_" + SecureToken.make()
        let token = PersonalAccessToken(userID: try user.requireID(), name: name, tokenHash: SecureToken.hash(secret),
                                        prefix: String(secret.prefix(10)))
        try await token.create(on: db)
        try await audit.record(.tokenCreated, "\(user.email): \(name)", on: db)
        return (token, secret)
    }

    func revokeToken(_ tokenID: UUID, of user: User) async throws {
        guard let token = try await PersonalAccessToken.find(tokenID, on: db), token.$user.id == user.id, token.revokedAt == nil else {
            throw Abort(.notFound)
        }
        token.revokedAt = now()
        try await token.save(on: db)
        try await audit.record(.tokenRevoked, "\(user.email): \(token.name)", on: db)
    }

    // MARK: roles

    /// Grant a role; `scopeID` is the institution id, country code or nil, as the role's scope requires.
    func grant(_ role: Role, scopeID: String?, to userID: UUID, by actor: Actor) async throws {
        guard let user = try await User.find(userID, on: db) else { throw Abort(.notFound) }
        let grant = RoleGrant(role: role, scopeID: role.scopeKind == .platform ? nil : scopeID)
        let place = try await placeForGrant(grant)
        if role.scopeKind != .platform, grant.scopeID == nil || (role.scopeKind == .institution && place == nil) {
            throw FieldErrors([("scope_id", "validation.scope_required")])
        }
        if role.scopeKind == .country, try await Country.query(on: db).filter(\.$code == grant.scopeID ?? "").first() == nil {
            throw FieldErrors([("scope_id", "validation.scope_required")])
        }
        guard actor.canGrant(grant, place: place) else { throw Forbidden() }
        var query = RoleAssignment.query(on: db).filter(\.$user.$id == userID).filter(\.$role == role.rawValue)
        query = grant.scopeID.map { query.filter(\.$scopeID == $0) } ?? query.filter(\.$scopeID == nil)
        guard try await query.first() == nil else { return }
        try await RoleAssignment(userID: userID, role: role, scopeID: grant.scopeID, grantedByID: actor.userID).create(on: db)
        try await audit.record(.roleGranted, "\(user.email): \(role.rawValue) \(grant.scopeID ?? "platform")", on: db)
    }

    func revoke(assignmentID: UUID, by actor: Actor) async throws {
        guard let assignment = try await RoleAssignment.find(assignmentID, on: db), let grant = assignment.grant else {
            throw Abort(.notFound)
        }
        let place = try await placeForGrant(grant)
        guard actor.canGrant(grant, place: place) else { throw Forbidden() }
        if grant.role == .admin, try await RoleAssignment.query(on: db).filter(\.$role == Role.admin.rawValue).count() <= 1 {
            throw FieldErrors([("role", "validation.last_admin")])
        }
        let user = try await User.find(assignment.$user.id, on: db)
        try await assignment.delete(on: db)
        try await audit.record(.roleRevoked, "\(user?.email ?? "?"): \(grant.role.rawValue) \(grant.scopeID ?? "platform")", on: db)
    }

    private func placeForGrant(_ grant: RoleGrant) async throws -> InstitutionPlace? {
        guard grant.role.scopeKind == .institution, let id = grant.scopeID.flatMap({ UUID(uuidString: $0) }) else { return nil }
        return try await Institution.find(id, on: db)?.place
    }
}

extension Request {
    var accounts: AccountService {
        AccountService(db: db, mailer: application.mailer, catalog: application.catalog, baseURL: config.baseURL,
                       audit: auditContext, bcryptCost: application.bcryptCost)
    }
}

struct BcryptCostKey: StorageKey { typealias Value = Int }

extension Application {
    /// 12 in production; the test suite lowers it so tests stay fast.
    var bcryptCost: Int {
        get { storage[BcryptCostKey.self] ?? 12 }
        set { storage[BcryptCostKey.self] = newValue }
    }
}
