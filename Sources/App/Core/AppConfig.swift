import Vapor

/// Settings read once from the environment at start-up (see the table in README.md).
public struct AppConfig: Sendable {
    public var databaseURL: String?
    public var baseURL: String
    public var dataDirectory: String
    public var secret: String
    public var smtp: SMTPSettings?
    public var mailFrom: String
    /// Load demo data into an empty embedded database on `serve`.
    public var autoSeedDemo: Bool
    /// Largest file a person may upload to the repository (INTERBA_MAX_UPLOAD_MB, default 50).
    public var maxUploadBytes: Int = 50 * 1024 * 1024

    public struct SMTPSettings: Sendable {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
    }

    public var isSecure: Bool { baseURL.lowercased().hasPrefix("https://") }

    public static func fromEnvironment(_ environment: Vapor.Environment,
                                       lookup: @escaping (String) -> String? = { Vapor.Environment.get($0) }) throws -> AppConfig {
        let get = { (key: String) -> String? in
            guard let value = lookup(key), !value.isEmpty else { return nil }
            return value
        }
        let secret: String
        if let provided = get("INTERBA_SECRET") {
            secret = provided
        } else if environment == .production {
            throw ConfigError("INTERBA_SECRET must be set in production (a long random string).")
        } else {
            secret = "development-secret-do-not-use-in-production"
        }
        var smtp: SMTPSettings?
        if let host = get("INTERBA_SMTP_HOST") {
            smtp = SMTPSettings(
                host: host,
                port: Int(get("INTERBA_SMTP_PORT") ?? "25") ?? 25,
                username: get("INTERBA_SMTP_USERNAME"),
                password: get("INTERBA_SMTP_PASSWORD"))
        }
        return AppConfig(
            databaseURL: get("DATABASE_URL"),
            baseURL: (get("INTERBA_BASE_URL") ?? "http://127.0.0.1:8080").trimmingSuffix("/"),
            dataDirectory: get("INTERBA_DATA_DIR") ?? "data",
            secret: secret,
            smtp: smtp,
            mailFrom: get("INTERBA_MAIL_FROM") ?? "Interba <no-reply@interba.test>",
            autoSeedDemo: (get("INTERBA_DEMO") ?? "1") != "0",
            maxUploadBytes: (Int(get("INTERBA_MAX_UPLOAD_MB") ?? "") ?? 50) * 1024 * 1024)
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}

struct AppConfigKey: StorageKey { typealias Value = AppConfig }

extension Application {
    public var config: AppConfig {
        get { storage[AppConfigKey.self]! }
        set { storage[AppConfigKey.self] = newValue }
    }
}

extension Request {
    var config: AppConfig { application.config }
}
