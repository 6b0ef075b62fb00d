import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Vapor

/// A fake Moodle web-service server that follows the real functions' parameter encoding, reply shapes and error
/// format, as recorded on Moodle 4.5.6 (../shared/moodle/contract/rest-calls.json; a contract test replays every
/// recorded pair against it). It serves the suite (in process, as a `MoodleTransport`), the benchmark and demos
/// (`interba fake-moodle --port 8081`). State lives in memory.
final class FakeMoodle: MoodleTransport, @unchecked Sendable {
    struct Course { var id: Int; var fullname: String; var shortname: String; var categoryID: Int; var summary: String; var format: String
        var sections: Int; var enableCompletion: Int; var sortorder: Int; var context: Int; var hasCriteria: Bool }
    struct User { var id: Int; var username: String; var firstname: String; var lastname: String; var email: String; var idnumber: String; var auth: String }
    struct Enrolment: Hashable { var userID: Int; var courseID: Int; var roleID: Int }

    var siteURL: String
    var token: String
    /// Functions the token may call (all of them by default).
    var functions: [String]
    var installedLanguages: Set<String> = ["en"]
    var themeRevision = "1795946594"
    var now: () -> Int = { Int(Date().timeIntervalSince1970) }
    var courses: [Int: Course] = [:]
    var users: [Int: User] = [:]
    var enrolments: Set<Enrolment> = []
    /// (user, course) pairs whose course completion is complete.
    var completions: Set<[Int]> = []
    /// Ids handed out next (a contract test seeds them to the recorded site's values).
    var next: [String: Int] = ["course": 2, "user": 3, "section": 1, "module": 1, "forum": 1, "context": 100]
    /// Transient failures to answer before the next real reply (HTTP 503), for retry tests.
    var failNext = 0
    /// Every call received: (function, fields).
    var calls: [(String, [(String, String)])] = []
    private let lock = NIOLock()

    static let allFunctions = MoodleClient.requiredFunctions + ["core_enrol_get_enrolled_users", "core_course_get_contents",
                                                                "core_completion_get_activities_completion_status", "core_course_delete_courses"]

    init(siteURL: String = "http://127.0.0.1:8081", token: String = "fake-token", functions: [String] = FakeMoodle.allFunctions) {
        self.siteURL = siteURL
        self.token = token
        self.functions = functions
    }

    func post(_ url: String, body: String) async throws -> (status: Int, body: Data) {
        lock.withLock { handle(MoodleForm.decode(body)) }
    }

    /// Marks a user's course completion complete (what a learner does in Moodle).
    func complete(userID: Int, courseID: Int) {
        lock.withLock {
            courses[courseID]?.hasCriteria = true
            completions.insert([userID, courseID])
        }
    }

    func setCriteria(courseID: Int) { lock.withLock { courses[courseID]?.hasCriteria = true } }

    private func take(_ key: String) -> Int {
        let value = next[key, default: 1]
        next[key] = value + 1
        return value
    }

    static func json(_ value: Any?) -> Data {
        guard let value else { return Data("null".utf8) }
        return (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])) ?? Data("null".utf8)
    }

    static func error(_ exception: String, _ code: String, _ message: String) -> Data {
        json(["exception": exception, "errorcode": code, "message": message])
    }

    static let invalidParameter = error("core\\exception\\invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected")

    /// `courses[0][fullname]` fields → [[fullname: …]].
    static func records(_ name: String, _ fields: [(String, String)]) -> [[String: String]] {
        var result: [Int: [String: String]] = [:]
        for (key, value) in fields where key.hasPrefix(name + "[") {
            let parts = key.dropFirst(name.count).split(separator: "]").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[")) }
            guard parts.count >= 2, let index = Int(parts[0]) else { continue }
            result[index, default: [:]][parts[1]] = value
        }
        return result.keys.sorted().map { result[$0]! }
    }

    static func values(_ name: String, _ fields: [(String, String)]) -> [String] {
        fields.filter { $0.0.hasPrefix(name + "[") }.map(\.1)
    }

    func handle(_ fields: [(String, String)]) -> (status: Int, body: Data) {
        if failNext > 0 { failNext -= 1; return (503, Data("Service Unavailable".utf8)) }
        func field(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }
        let function = field("wsfunction") ?? ""
        calls.append((function, fields.filter { !["wstoken", "wsfunction", "moodlewsrestformat"].contains($0.0) }))
        guard field("wstoken") == token else {
            return (200, Self.error("core\\exception\\moodle_exception", "invalidtoken", "Invalid token - token not found"))
        }
        guard functions.contains(function) else {
            return (200, Self.error("core\\exception\\webservice_access_exception", "accessexception", "Access control exception"))
        }
        switch function {
        case "core_webservice_get_site_info": return (200, Self.json(siteInfo()))
        case "core_course_create_courses": return (200, createCourses(Self.records("courses", fields)))
        case "core_course_update_courses":
            for record in Self.records("courses", fields) {
                guard let id = record["id"].flatMap(Int.init), courses[id] != nil else { return (200, Self.invalidParameter) }
                if let name = record["fullname"] { courses[id]!.fullname = name }
                if let summary = record["summary"] { courses[id]!.summary = summary }
            }
            return (200, Self.json(["warnings": []]))
        case "core_course_get_courses_by_field":
            let value = field("value") ?? ""
            let found = courses.values.filter { field("field") == "shortname" ? $0.shortname == value : String($0.id) == value }.sorted { $0.id < $1.id }
            return (200, Self.json(["courses": found.map(courseRecord), "warnings": []]))
        case "core_course_get_contents":
            guard let id = field("courseid").flatMap(Int.init), let course = courses[id] else { return (200, Self.invalidParameter) }
            return (200, Self.json(contents(course)))
        case "core_course_delete_courses":
            for id in Self.values("courseids", fields).compactMap(Int.init) { courses[id] = nil }
            return (200, Self.json(["warnings": []]))
        case "core_user_get_users_by_field":
            let values = Set(Self.values("values", fields).map { $0.lowercased() })
            let key = field("field") ?? ""
            let found = users.values.filter { user in
                switch key {
                case "email": values.contains(user.email.lowercased())
                case "username": values.contains(user.username)
                case "id": values.contains(String(user.id))
                default: false
                }
            }.sorted { $0.id < $1.id }
            return (200, Self.json(found.map { userRecord($0) }))
        case "core_user_create_users": return (200, createUsers(Self.records("users", fields)))
        case "enrol_manual_enrol_users":
            let records = Self.records("enrolments", fields)
            for record in records {
                guard let userID = record["userid"].flatMap(Int.init), users[userID] != nil else {
                    return (200, Self.error("dml_missing_record_exception", "invaliduser", "Invalid user"))
                }
                guard let courseID = record["courseid"].flatMap(Int.init), courses[courseID] != nil, let role = record["roleid"].flatMap(Int.init) else {
                    return (200, Self.invalidParameter)
                }
                enrolments.insert(Enrolment(userID: userID, courseID: courseID, roleID: role))
            }
            return (200, Self.json(nil))
        case "core_enrol_get_enrolled_users":
            guard let courseID = field("courseid").flatMap(Int.init), let course = courses[courseID] else { return (200, Self.invalidParameter) }
            let enrolled = enrolments.filter { $0.courseID == courseID }
            let ids = Set(enrolled.map(\.userID)).sorted()
            return (200, Self.json(ids.compactMap { users[$0] }.map { user -> [String: Any] in
                var record = userRecord(user, enrolled: true)
                record["roles"] = enrolled.filter { $0.userID == user.id }.map { ["roleid": $0.roleID, "name": "", "shortname": $0.roleID == 5 ? "student" : "editingteacher", "sortorder": 0] }
                record["enrolledcourses"] = [["id": course.id, "fullname": course.fullname, "shortname": course.shortname]]
                return record
            }))
        case "core_completion_get_course_completion_status":
            guard let courseID = field("courseid").flatMap(Int.init), let course = courses[courseID],
                  let userID = field("userid").flatMap(Int.init), users[userID] != nil else { return (200, Self.invalidParameter) }
            guard course.hasCriteria else {
                return (200, Self.error("core\\exception\\moodle_exception", "nocriteriaset", "No completion criteria set for this course"))
            }
            guard enrolments.contains(where: { $0.userID == userID && $0.courseID == courseID }) else {
                return (200, Self.error("core\\exception\\moodle_exception", "usernotenroled", "User is not enrolled in this course"))
            }
            let done = completions.contains([userID, courseID])
            return (200, Self.json(["completionstatus": ["completed": done, "aggregation": 1, "completions": [[
                "type": 4, "title": "Manual self completion", "status": done ? "Yes" : "No", "complete": done,
                "timecompleted": done ? now() as Any : NSNull() as Any, "details": ["type": "Self completion", "criteria": "Self completion", "requirement": "Marking yourself complete", "status": ""],
            ]]], "warnings": []]))
        case "core_completion_get_activities_completion_status":
            return (200, Self.json(["statuses": [], "warnings": []]))
        default:
            return (200, Self.error("core\\exception\\invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected"))
        }
    }

    private func createCourses(_ records: [[String: String]]) -> Data {
        var created: [Course] = []
        for record in records {
            guard let fullname = record["fullname"], let shortname = record["shortname"], let category = record["categoryid"].flatMap(Int.init) else {
                return Self.invalidParameter
            }
            if let lang = record["lang"], !installedLanguages.contains(lang) {
                return Self.error("core\\exception\\moodle_exception", "errorinvalidparam", "The param \"lang\" is invalid.")
            }
            if courses.values.contains(where: { $0.shortname == shortname }) || created.contains(where: { $0.shortname == shortname }) {
                return Self.error("core\\exception\\moodle_exception", "shortnametaken", "Short name is already used for another course (\(shortname))")
            }
            created.append(Course(id: 0, fullname: fullname, shortname: shortname, categoryID: category, summary: record["summary"] ?? "",
                                  format: record["format"] ?? "topics", sections: Int(record["numsections"] ?? "") ?? 4,
                                  enableCompletion: Int(record["enablecompletion"] ?? "") ?? 0, sortorder: 0, context: 0, hasCriteria: false))
        }
        var result: [[String: Any]] = []
        for var course in created {
            course.id = take("course")
            course.sortorder = 10000 + courses.count + 1
            course.context = take("context")
            courses[course.id] = course
            result.append(["id": course.id, "shortname": course.shortname])
        }
        return Self.json(result)
    }

    private func createUsers(_ records: [[String: String]]) -> Data {
        var created: [User] = []
        for record in records {
            guard let username = record["username"], let email = record["email"], let first = record["firstname"], let last = record["lastname"],
                  record["password"] != nil || record["createpassword"] == "1",
                  username == username.lowercased(), !username.isEmpty,
                  !users.values.contains(where: { $0.username == username }), !created.contains(where: { $0.username == username })
            else { return Self.invalidParameter }
            created.append(User(id: 0, username: username, firstname: first, lastname: last, email: email, idnumber: record["idnumber"] ?? "",
                                auth: record["auth"] ?? "manual"))
        }
        var result: [[String: Any]] = []
        for var user in created {
            user.id = take("user")
            users[user.id] = user
            result.append(["id": user.id, "username": user.username])
        }
        return Self.json(result)
    }

    private func userRecord(_ user: User, enrolled: Bool = false) -> [String: Any] {
        var record: [String: Any] = [
            "id": user.id, "username": user.username, "firstname": user.firstname, "lastname": user.lastname,
            "fullname": "\(user.firstname) \(user.lastname)", "email": user.email, "department": "", "idnumber": user.idnumber,
            "firstaccess": 0, "lastaccess": 0,
            "profileimageurlsmall": "\(siteURL)/theme/image.php/boost/core/\(themeRevision)/u/f2",
            "profileimageurl": "\(siteURL)/theme/image.php/boost/core/\(themeRevision)/u/f1",
        ]
        if enrolled {
            record["lastcourseaccess"] = 0
        } else {
            record.merge(["auth": user.auth, "suspended": false, "confirmed": true, "lang": "en", "theme": "", "timezone": "99",
                          "mailformat": 1, "trackforums": 0]) { $1 }
        }
        return record
    }

    private func courseRecord(_ course: Course) -> [String: Any] {
        let created = now()
        let day = created - created % 86400
        let filters = ["displayh5p", "activitynames", "mathjaxloader", "emoticon", "urltolink", "mediaplugin"]
        return [
            "id": course.id, "fullname": course.fullname, "displayname": course.fullname, "shortname": course.shortname,
            "courseimage": "\(siteURL)/pluginfile.php/\(course.context)/course/generated/course.svg", "categoryid": course.categoryID,
            "categoryname": "Category \(course.categoryID)", "sortorder": course.sortorder, "summary": course.summary, "summaryformat": 1,
            "summaryfiles": [], "overviewfiles": [], "showactivitydates": true, "showcompletionconditions": true, "contacts": [],
            "enrollmentmethods": ["manual"], "idnumber": "", "format": course.format, "showgrades": 1, "newsitems": 5,
            "startdate": day, "enddate": day + 365 * 86400, "maxbytes": 0, "showreports": 0, "visible": 1, "groupmode": 0,
            "groupmodeforce": 0, "defaultgroupingid": 0, "enablecompletion": course.enableCompletion, "completionnotify": 0, "lang": "",
            "theme": "", "marker": 0, "legacyfiles": 0, "calendartype": "", "timecreated": created, "timemodified": created, "requested": 0,
            "cacherev": created, "filters": filters.map { ["filter": $0, "localstate": 0, "inheritedstate": 1] },
            "courseformatoptions": [["name": "hiddensections", "value": 1], ["name": "coursedisplay", "value": 0], ["name": "indentation", "value": "1"]],
        ]
    }

    private var contentIDs: [Int: (sections: [Int], module: Int, forum: Int)] = [:]

    private func contents(_ course: Course) -> [[String: Any]] {
        if contentIDs[course.id] == nil {
            let sections = (0...course.sections).map { _ in take("section") }
            contentIDs[course.id] = (sections, take("module"), take("forum"))
        }
        let ids = contentIDs[course.id]!
        return (0...course.sections).map { number in
            var section: [String: Any] = [
                "id": ids.sections[number], "name": number == 0 ? "General" : "New section", "visible": 1, "summary": "", "summaryformat": 1,
                "section": number, "hiddenbynumsections": 0, "uservisible": true, "component": NSNull(), "itemid": NSNull(), "modules": [],
            ]
            if number == 0 {
                section["modules"] = [[
                    "id": ids.module, "url": "\(siteURL)/mod/forum/view.php?id=\(ids.module)", "name": "Announcements", "instance": ids.forum,
                    "contextid": course.context + 1, "visible": 1, "uservisible": true, "visibleoncoursepage": 1,
                    "modicon": "\(siteURL)/theme/image.php/boost/forum/\(themeRevision)/monologo?filtericon=1", "modname": "forum",
                    "purpose": "collaboration", "branded": false, "modplural": "Forums", "availability": NSNull(), "indent": 0, "onclick": "",
                    "afterlink": NSNull(), "activitybadge": [], "customdata": "{\"trackingtype\":\"1\"}", "noviewlink": false, "completion": 0,
                    "downloadcontent": 1, "dates": [], "groupmode": 0,
                ]]
            }
            return section
        }
    }

    private func siteInfo() -> [String: Any] {
        [
            "sitename": "Interba fake Moodle", "username": "admin", "firstname": "Admin", "lastname": "User", "fullname": "Admin User",
            "lang": "en", "userid": 2, "siteurl": siteURL, "userpictureurl": "\(siteURL)/theme/image.php/boost/core/\(themeRevision)/u/f1",
            "downloadfiles": 1, "uploadfiles": 1, "release": "4.5.6 (Build: 20250811)", "version": "2024100706", "mobilecssurl": "",
            "advancedfeatures": [["name": "enablecompletion", "value": 1]], "usercanmanageownfiles": true, "userquota": 0,
            "usermaxuploadfilesize": -1, "userhomepage": 1, "userprivateaccesskey": "0", "siteid": 1, "sitecalendartype": "gregorian",
            "usercalendartype": "gregorian", "userissiteadmin": true, "theme": "boost", "limitconcurrentlogins": 0, "policyagreed": 0,
            "functions": functions.map { ["name": $0, "version": "2024100706"] },
        ]
    }
}

extension FakeMoodle {
    /// Serves this fake's web-service endpoint over HTTP on 127.0.0.1:`port` (for `interba fake-moodle` and the
    /// e-learning benchmark); shut the returned application's server down when done.
    func serve(port: Int) async throws -> Application {
        let app = try await Application.make(.development)
        app.http.server.configuration.hostname = "127.0.0.1"
        app.http.server.configuration.port = port
        app.routes.defaultMaxBodySize = "50mb"
        app.post("webservice", "rest", "server.php") { req async throws -> Response in
            let (status, body) = try await self.post(req.url.string, body: req.body.string ?? "")
            let response = Response(status: HTTPResponseStatus(statusCode: status), body: .init(data: body))
            response.headers.contentType = .json
            return response
        }
        try await app.server.start(address: .hostname("127.0.0.1", port: port))
        return app
    }
}
