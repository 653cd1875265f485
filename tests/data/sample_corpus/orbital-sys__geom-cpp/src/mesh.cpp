#include <array>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "geom/vec3.hpp"

namespace geom {

using Triangle = std::array<std::size_t, 3>;

class Mesh {
public:
    Mesh(std::vector<Vec3> vertices, std::vector<Triangle> faces)
        : vertices_(std::move(vertices)), faces_(std::move(faces)) {
        for (const auto& f : faces_) {
            for (std::size_t idx : f) {
                if (idx >= vertices_.size()) {
                    throw std::out_of_range("face refers to a missing vertex");
                }
            }
        }
    }

    // Sum of triangle areas.
    double surfaceArea() const {
        double area = 0.0;
        for (const auto& f : faces_) {
            const Vec3 ab = vertices_[f[1]] - vertices_[f[0]];
            const Vec3 ac = vertices_[f[2]] - vertices_[f[0]];
            area += 0.5 * ab.cross(ac).length();
        }
        return area;
    }

    // Signed volume via the divergence theorem; positive for outward-facing
    // (counter-clockwise) closed meshes.
    double volume() const {
        double six_v = 0.0;
        for (const auto& f : faces_) {
            six_v += vertices_[f[0]].dot(vertices_[f[1]].cross(vertices_[f[2]]));
        }
        return six_v / 6.0;
    }

    // Area-weighted vertex normals.
    std::vector<Vec3> vertexNormals() const {
        std::vector<Vec3> normals(vertices_.size());
        for (const auto& f : faces_) {
            const Vec3 n = (vertices_[f[1]] - vertices_[f[0]]).cross(vertices_[f[2]] - vertices_[f[0]]);
            for (std::size_t idx : f) {
                normals[idx] += n;
            }
        }
        for (auto& n : normals) {
            n = n.normalized();
        }
        return normals;
    }

    std::size_t vertexCount() const { return vertices_.size(); }
    std::size_t faceCount() const { return faces_.size(); }

private:
    std::vector<Vec3> vertices_;
    std::vector<Triangle> faces_;
};

Mesh unitCube() {
    std::vector<Vec3> v = {
        {0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0},
        {0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 1, 1},
    };
    std::vector<Triangle> f = {
        {0, 2, 1}, {0, 3, 2}, {4, 5, 6}, {4, 6, 7}, {0, 1, 5}, {0, 5, 4},
        {1, 2, 6}, {1, 6, 5}, {2, 3, 7}, {2, 7, 6}, {3, 0, 4}, {3, 4, 7},
    };
    return Mesh(std::move(v), std::move(f));
}

}  // namespace geom
