import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Leaf
import Vapor

/// Builds the application: configuration, database, sessions, middleware, views, migrations, routes, commands.
public func configure(_ app: Application) async throws {
    app.config = try AppConfig.fromEnvironment(app.environment)
    app.catalog = try Catalog.load(from: app.directory.resourcesDirectory + "Locales/")
    try configureDatabase(app)

    // Sessions live in the database so any number of server processes share them.
    app.sessions.use(.fluent)
    let secure = app.config.isSecure
    app.sessions.configuration = SessionsConfiguration(cookieName: "interba_session") { id in
        HTTPCookies.Value(string: id.string, expires: Date().addingTimeInterval(60 * 60 * 24 * 14), maxAge: nil,
                          domain: nil, path: "/", isSecure: secure, isHTTPOnly: true, sameSite: .lax)
    }

    // Request bodies above 2 MB are refused with 413 (file uploads will raise this per route).
    app.routes.defaultMaxBodySize = "2mb"

    app.middleware = Middlewares()
    app.middleware.use(RouteLoggingMiddleware(logLevel: .info))
    app.middleware.use(RequestIDMiddleware())
    app.middleware.use(SecurityHeadersMiddleware())
    // Sessions outside the error middleware, so error pages (404 included) still have a session and CSRF token.
    app.middleware.use(app.sessions.middleware)
    app.middleware.use(ProblemErrorMiddleware())
    app.middleware.use(FileMiddleware(publicDirectory: app.directory.publicDirectory, defaultFile: nil))

    configureViews(app)
    Migrations.register(on: app)
    if app.mailerIsDefault {
        if let smtp = app.config.smtp {
            SMTPMailer(client: SMTPClient(host: smtp.host, port: smtp.port, username: smtp.username,
                                          password: smtp.password, from: app.config.mailFrom),
                       logger: app.logger).install(on: app)
        } else {
            app.mailer = OutboxMailer()
        }
    }

    try routes(app)
    app.asyncCommands.use(SeedDemoCommand(), as: "seed-demo")
    app.asyncCommands.use(CreateAdminCommand(), as: "create-admin")
    app.asyncCommands.use(CreateTokenCommand(), as: "create-token")
    app.asyncCommands.use(BenchNeedsAnalysisCommand(), as: "bench-needs-analysis")
    app.asyncCommands.use(BenchRepositoryCommand(), as: "bench-repository")
    app.asyncCommands.use(BenchCoordinationCommand(), as: "bench-coordination")
    app.asyncCommands.use(BenchTrainingCommand(), as: "bench-training")
    app.asyncCommands.use(BenchElearningCommand(), as: "bench-elearning")
    app.asyncCommands.use(FakeMoodleCommand(), as: "fake-moodle")
    app.lifecycle.use(StartupBanner())
    app.lifecycle.use(JobRunnerLifecycle())
    RequestService.registerJobs(app)
    MoodleSync.registerJobs(app)
}

func configureDatabase(_ app: Application) throws {
    let url = app.environment == .testing ? Environment.get("TEST_DATABASE_URL") : app.config.databaseURL
    if let url, !url.isEmpty {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw ConfigError("DATABASE_URL must start with postgres:// (or be unset for the embedded SQLite file).")
        }
        try app.databases.use(.postgres(url: url), as: .psql)
    } else if app.environment == .testing {
        app.databases.use(.sqlite(.memory), as: .sqlite)
    } else {
        let directory = app.config.dataDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        app.databases.use(.sqlite(.file(directory + "/interba.sqlite"), sqlLogLevel: .debug), as: .sqlite)
    }
}

struct MailerIsSetKey: StorageKey { typealias Value = Bool }

extension Application {
    /// True unless a test has injected its own mailer before `configure`.
    var mailerIsDefault: Bool { storage[MailerKey.self] == nil }
}

/// Headers every response gets: no sniffing, no framing, a strict content policy (all assets are our own).
struct SecurityHeadersMiddleware: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: req)
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        response.headers.replaceOrAdd(name: "X-Frame-Options", value: "DENY")
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "same-origin")
        response.headers.replaceOrAdd(name: "Content-Security-Policy",
                                      value: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
        return response
    }
}

/// On `serve`: migrate, load demo data into an empty database, and print the address and demo sign-ins.
struct StartupBanner: LifecycleHandler {
    func didBootAsync(_ app: Application) async throws {
        guard app.environment != .testing, Self.isServe(app) else { return }
        try await tuneSQLite(app)
        try await app.autoMigrate()
        if app.config.autoSeedDemo, app.config.databaseURL == nil || Environment.get("INTERBA_DEMO") == "1" {
            let outcome = try await DemoSeeder.seed(app, on: app.db)
            if outcome == .seeded { app.logger.notice("Demo data loaded.") }
        }
        let hasDemo = try await User.query(on: app.db).filter(\.$email == "admin@\(DemoSeeder.domain)").first() != nil
        var lines = ["", "Interba is starting at \(Self.listenAddress(app)) (public address: \(app.config.baseURL))"]
        if app.config.databaseURL == nil { lines.append("Database: \(app.config.dataDirectory)/interba.sqlite") }
        if hasDemo { lines += DemoSeeder.signInLines(baseURL: app.config.baseURL) }
        print(lines.joined(separator: "\n") + "\n")
    }

    /// The address `serve` will listen on, from `--hostname`/`--port` or the server configuration.
    static func listenAddress(_ app: Application) -> String {
        let arguments = Array(app.environment.arguments)
        func option(_ names: [String]) -> String? {
            for (index, argument) in arguments.enumerated() {
                for name in names {
                    if argument == name, index + 1 < arguments.count { return arguments[index + 1] }
                    if argument.hasPrefix(name + "=") { return String(argument.dropFirst(name.count + 1)) }
                }
            }
            return nil
        }
        let host = option(["--hostname", "-H"]) ?? app.http.server.configuration.hostname
        let port = option(["--port", "-p"]) ?? String(app.http.server.configuration.port)
        return "http://\(host):\(port)"
    }

    static func isServe(_ app: Application) -> Bool {
        let arguments = app.environment.arguments.dropFirst()
        return arguments.first == nil || arguments.first == "serve" || arguments.first?.hasPrefix("-") == true
    }
}

/// The embedded SQLite file in write-ahead-log mode (readers never wait for the writer; a commit appends to the log)
/// with a 64 MB page cache and memory-mapped reads on every connection (one per event loop). No-op on PostgreSQL.
func tuneSQLite(_ app: Application) async throws {
    guard let first = app.db as? any SQLDatabase, first.dialect.name == "sqlite" else { return }
    try await first.raw("PRAGMA journal_mode = WAL").run()
    for loop in app.eventLoopGroup.makeIterator() {
        guard let sql = app.databases.database(logger: app.logger, on: loop) as? any SQLDatabase else { continue }
        // Twice per loop: the pool may hand out either of its connections.
        for _ in 0..<2 {
            try await sql.raw("PRAGMA synchronous = NORMAL").run()
            try await sql.raw("PRAGMA cache_size = -65536").run()
            try await sql.raw("PRAGMA mmap_size = 268435456").run()
        }
    }
}
