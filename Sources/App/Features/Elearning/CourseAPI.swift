import Fluent
import Vapor

/// `GET /api/v1/courses` (courses with their outline) and `GET /api/v1/courses/{id}/cartridge` (the `.imscc` file).
struct CourseAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let api = routes.grouped("api", "v1").grouped(TokenAuthenticator())
        api.get("courses", use: list)
        api.get("courses", ":id", "cartridge", use: cartridge)
    }

    struct ItemDTO: Content { var id: UUID; var kind: String; var title: String }
    struct SectionDTO: Content { var id: UUID; var title: String; var items: [ItemDTO] }
    struct CourseDTO: Content {
        var id: UUID
        var title: String
        var shortname: String
        var language: String
        var version: Int
        var institutionId: UUID
        var moduleId: UUID?
        var moodleUrl: String?
        var cartridge: String
        var sections: [SectionDTO]
    }
    struct ListDTO: Content { var total: Int; var items: [CourseDTO] }

    func list(req: Request) async throws -> ListDTO {
        var items: [CourseDTO] = []
        for course in try await Course.query(on: req.db).sort(\.$title).all() {
            let sections = try await req.courses.sections(course)
            let entries = try await req.courses.items(sections)
            items.append(CourseDTO(
                id: course.id!, title: course.title, shortname: course.shortname, language: course.language, version: course.version,
                institutionId: course.$institution.id, moduleId: course.$module.id, moodleUrl: try await MoodleLinks.courseURL(course, on: req.db),
                cartridge: "\(req.application.config.baseURL)/api/v1/courses/\(course.id!.uuidString)/cartridge",
                sections: sections.map { section in
                    SectionDTO(id: section.id!, title: section.title,
                               items: entries.filter { $0.$section.id == section.id }.map { ItemDTO(id: $0.id!, kind: $0.kind.rawValue, title: $0.title) })
                }))
        }
        return ListDTO(total: items.count, items: items)
    }

    func cartridge(req: Request) async throws -> Response {
        guard let id = req.parameters.get("id", as: UUID.self), let course = try await Course.find(id, on: req.db) else { throw Abort(.notFound) }
        return try await CourseRoutes.cartridgeResponse(req, course)
    }
}
