import Foundation
import NIOCore
import Vapor

/// Moodle's REST web services (DESIGN.md 3.5, ../shared/moodle/README.md): `POST /webservice/rest/server.php` with
/// `wstoken`, `wsfunction`, `moodlewsrestformat=json` and the parameters in PHP array notation
/// (`courses[0][fullname]=…`). Errors come back with HTTP 200 as `{"exception", "errorcode", "message"}`.
enum MoodleForm {
    /// `courses[0][fullname]` style fields for a list of records.
    static func list(_ name: String, _ records: [[(String, String)]]) -> [(String, String)] {
        records.enumerated().flatMap { index, fields in fields.map { ("\(name)[\(index)][\($0.0)]", $0.1) } }
    }

    /// `values[0]=…` style fields.
    static func values(_ name: String, _ values: [String]) -> [(String, String)] {
        values.enumerated().map { ("\(name)[\($0.offset)]", $0.element) }
    }

    static func encode(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&")
    }

    /// Parses a form body back into ordered pairs (the fake Moodle reads requests with it).
    static func decode(_ body: String) -> [(String, String)] {
        body.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { (String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? String(s) }
            guard let key = parts.first else { return nil }
            return (decode(key), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}

/// An error reply of Moodle, with a plain-language explanation for the coordinator.
struct MoodleError: Error, Equatable, Codable {
    var exception: String
    var errorcode: String
    var message: String

    /// Catalog key of the explanation (falls back to showing Moodle's own message).
    var catalogKey: String {
        switch errorcode {
        case "invalidtoken": "moodle.error.invalidtoken"
        case "accessexception", "webservicesnotenabled": "moodle.error.access"
        case "shortnametaken": "moodle.error.shortnametaken"
        case "invalidparameter": "moodle.error.invalidparameter"
        case "invaliduser": "moodle.error.invaliduser"
        case "errorinvalidparam": "moodle.error.errorinvalidparam"
        case "nocriteriaset": "moodle.error.nocriteriaset"
        case "usernotenroled": "moodle.error.usernotenroled"
        default: "moodle.error.other"
        }
    }
}

/// Why a call did not succeed.
enum MoodleFailure: Error, Equatable {
    /// Moodle answered with an error object.
    case moodle(MoodleError)
    /// Nothing answered (DNS, refused, timeout) or the server failed (5xx), after the retries.
    case unreachable(String)
    /// An answer that is not Moodle's JSON (a login page, a proxy error).
    case notMoodle(String)

    var catalogKey: String {
        switch self {
        case let .moodle(error): error.catalogKey
        case .unreachable: "moodle.error.unreachable"
        case .notMoodle: "moodle.error.not-moodle"
        }
    }

    var detail: String {
        switch self {
        case let .moodle(error): "\(error.errorcode): \(error.message)"
        case let .unreachable(text), let .notMoodle(text): text
        }
    }
}

/// Sends one form to a Moodle site. The HTTP one is used in production; tests use the in-process fake.
protocol MoodleTransport: Sendable {
    func post(_ url: String, body: String) async throws -> (status: Int, body: Data)
}

struct HTTPMoodleTransport: MoodleTransport {
    let client: any Client
    var timeout: TimeAmount = .seconds(30)

    func post(_ url: String, body: String) async throws -> (status: Int, body: Data) {
        var headers = HTTPHeaders()
        headers.contentType = .urlEncodedForm
        headers.replaceOrAdd(name: .accept, value: "application/json")
        let response = try await client.post(URI(string: url), headers: headers) { request in
            request.body = ByteBuffer(string: body)
            request.timeout = timeout
        }
        return (Int(response.status.code), response.body.map { Data($0.readableBytesView) } ?? Data())
    }
}

struct MoodleClient: Sendable {
    let siteURL: String
    let token: String
    let transport: any MoodleTransport
    /// Waits between retries of transient failures (injected so tests do not sleep).
    var pause: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    var attempts = 3

    /// Every function Interba calls, checked against the token's list on "test connection".
    static let requiredFunctions = [
        "core_webservice_get_site_info", "core_course_create_courses", "core_course_update_courses", "core_course_get_courses_by_field",
        "core_user_get_users_by_field", "core_user_create_users", "enrol_manual_enrol_users", "core_completion_get_course_completion_status",
    ]

    static let studentRole = 5
    static let teacherRole = 3

    var endpoint: String {
        (siteURL.hasSuffix("/") ? String(siteURL.dropLast()) : siteURL) + "/webservice/rest/server.php"
    }

    /// One web-service call; transient failures (no answer, 5xx) are retried with backoff, Moodle's errors are not.
    func call(_ function: String, _ parameters: [(String, String)] = []) async throws -> Data {
        let body = MoodleForm.encode([("wstoken", token), ("wsfunction", function), ("moodlewsrestformat", "json")] + parameters)
        var lastProblem = ""
        for attempt in 0..<max(1, attempts) {
            if attempt > 0 { try await pause(.milliseconds(250 << attempt)) }
            let status: Int, data: Data
            do {
                (status, data) = try await transport.post(endpoint, body: body)
            } catch {
                lastProblem = String(describing: error)
                continue
            }
            if status >= 500 { lastProblem = "HTTP \(status)"; continue }
            guard status == 200 else { throw MoodleFailure.notMoodle("HTTP \(status)") }
            if let error = try? JSONDecoder().decode(MoodleError.self, from: data) { throw MoodleFailure.moodle(error) }
            guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
                throw MoodleFailure.notMoodle(String(decoding: data.prefix(200), as: UTF8.self))
            }
            return data
        }
        throw MoodleFailure.unreachable(lastProblem)
    }

    func decode<T: Decodable>(_ type: T.Type, _ function: String, _ parameters: [(String, String)] = []) async throws -> T {
        let data = try await call(function, parameters)
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw MoodleFailure.notMoodle("\(function): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
    }

    struct SiteInfo: Decodable, Sendable {
        struct Function: Decodable, Sendable { var name: String }
        var sitename: String
        var siteurl: String?
        var release: String?
        var version: String?
        var functions: [Function]
    }

    func siteInfo() async throws -> SiteInfo { try await decode(SiteInfo.self, "core_webservice_get_site_info") }

    struct User: Decodable, Sendable, Equatable {
        var id: Int
        var username: String
        var firstname: String?
        var lastname: String?
        var email: String?
    }

    func users(emails: [String]) async throws -> [User] {
        guard !emails.isEmpty else { return [] }
        return try await decode([User].self, "core_user_get_users_by_field", [("field", "email")] + MoodleForm.values("values", emails))
    }

    struct NewUser: Sendable {
        var username: String
        var email: String
        var firstname: String
        var lastname: String
        var idnumber: String
    }

    struct Created: Decodable, Sendable { var id: Int; var username: String? ; var shortname: String? }

    func createUsers(_ users: [NewUser]) async throws -> [Created] {
        try await decode([Created].self, "core_user_create_users", MoodleForm.list("users", users.map {
            [("username", $0.username), ("email", $0.email), ("firstname", $0.firstname), ("lastname", $0.lastname),
             ("createpassword", "1"), ("auth", "manual"), ("idnumber", $0.idnumber)]
        }))
    }

    struct CourseFields: Sendable {
        var fullname: String
        var shortname: String
        var categoryID: Int
        var summaryHTML: String
        var sections: Int
    }

    func createCourse(_ course: CourseFields) async throws -> Created {
        let created = try await decode([Created].self, "core_course_create_courses", MoodleForm.list("courses", [[
            ("fullname", course.fullname), ("shortname", course.shortname), ("categoryid", String(course.categoryID)),
            ("summary", course.summaryHTML), ("summaryformat", "1"), ("format", "topics"), ("numsections", String(course.sections)),
            ("enablecompletion", "1"),
        ]]))
        guard let first = created.first else { throw MoodleFailure.notMoodle("core_course_create_courses returned nothing") }
        return first
    }

    func updateCourse(id: Int, _ course: CourseFields) async throws {
        _ = try await call("core_course_update_courses", MoodleForm.list("courses", [[
            ("id", String(id)), ("fullname", course.fullname), ("summary", course.summaryHTML), ("summaryformat", "1"),
        ]]))
    }

    struct FoundCourses: Decodable { struct Course: Decodable { var id: Int; var shortname: String; var idnumber: String? }; var courses: [Course] }

    func course(shortname: String) async throws -> FoundCourses.Course? {
        try await decode(FoundCourses.self, "core_course_get_courses_by_field", [("field", "shortname"), ("value", shortname)]).courses.first
    }

    struct Enrolment: Sendable, Hashable { var roleID: Int; var userID: Int; var courseID: Int }

    func enrol(_ enrolments: [Enrolment]) async throws {
        guard !enrolments.isEmpty else { return }
        _ = try await call("enrol_manual_enrol_users", MoodleForm.list("enrolments", enrolments.map {
            [("roleid", String($0.roleID)), ("userid", String($0.userID)), ("courseid", String($0.courseID))]
        }))
    }

    struct CompletionStatus: Decodable { struct Status: Decodable { var completed: Bool }; var completionstatus: Status }

    func completed(courseID: Int, userID: Int) async throws -> Bool {
        try await decode(CompletionStatus.self, "core_completion_get_course_completion_status",
                         [("courseid", String(courseID)), ("userid", String(userID))]).completionstatus.completed
    }
}
