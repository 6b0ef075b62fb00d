import Fluent
import Vapor

/// `interba seed-demo`: load the demo data set (refuses on a production database that has accounts).
struct SeedDemoCommand: AsyncCommand {
    struct Signature: CommandSignature {}
    var help: String { "Loads the demo data set: partner institutions and a person for every role." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        try await app.autoMigrate()
        switch try await DemoSeeder.seed(app, on: app.db) {
        case .seeded: context.console.print("Demo data loaded.")
        case .alreadySeeded: context.console.print("Demo data is already there; nothing changed.")
        }
        for line in DemoSeeder.signInLines(baseURL: app.config.baseURL) { context.console.print(line) }
    }
}

/// `interba create-admin --email E --password P`: create a platform admin (or make an existing person one).
struct CreateAdminCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "email", help: "Email address of the admin") var email: String?
        @Option(name: "password", help: "Password (at least 10 characters)") var password: String?
        @Option(name: "name", help: "Display name") var name: String?
    }
    var help: String { "Creates a platform admin." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        try await app.autoMigrate()
        let email = AccountRules.normalizedEmail(signature.email ?? "")
        guard AccountRules.isValidEmail(email) else { throw ConfigError("--email must be a valid email address.") }
        let password = signature.password ?? ""
        if AccountRules.passwordProblem(password) != nil {
            throw ConfigError("--password must have \(AccountRules.minimumPasswordLength) to \(AccountRules.maximumPasswordLength) characters.")
        }
        let user: User
        if let existing = try await User.query(on: app.db).filter(\.$email == email).first() {
            user = existing
            user.passwordHash = try Bcrypt.hash(password, cost: app.bcryptCost)
            user.status = .active
            try await user.save(on: app.db)
        } else {
            user = User(email: email, name: signature.name ?? "Administrator", passwordHash: try Bcrypt.hash(password, cost: app.bcryptCost),
                        status: .active, institutionID: nil)
            try await user.create(on: app.db)
        }
        if try await RoleAssignment.query(on: app.db).filter(\.$user.$id == user.requireID()).filter(\.$role == Role.admin.rawValue).first() == nil {
            try await RoleAssignment(userID: user.requireID(), role: .admin, scopeID: nil, grantedByID: nil).create(on: app.db)
        }
        try await AuditContext.system.record(.roleGranted, "\(email): admin (command line)", on: app.db)
        context.console.print("Admin ready: \(email)")
    }
}

/// `interba create-token --email E --name N`: print a new personal access token (for automation).
struct CreateTokenCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "email", help: "Whose token") var email: String?
        @Option(name: "name", help: "What the token is for") var name: String?
    }
    var help: String { "Creates a personal access token and prints it once." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        try await app.autoMigrate()
        let email = AccountRules.normalizedEmail(signature.email ?? "")
        guard let user = try await User.query(on: app.db).filter(\.$email == email).first() else {
            throw ConfigError("No account with email \(email).")
        }
        let service = AccountService(db: app.db, mailer: app.mailer, catalog: app.catalog, baseURL: app.config.baseURL,
                                     audit: .system, bcryptCost: app.bcryptCost)
        let (_, secret) = try await service.createToken(for: user, name: signature.name ?? "command line")
        context.console.print(secret)
    }
}
