#include <cassert>
#include <cmath>
#include <iostream>

#include "geom/vec3.hpp"

namespace geom {
class Mesh;
Mesh unitCube();
}  // namespace geom

// Minimal checks without a framework: build with
//   c++ -std=c++17 -Iinclude src/mesh.cpp tests/test_mesh.cpp -o test_mesh
static bool near(double a, double b, double eps = 1e-9) { return std::fabs(a - b) < eps; }

int main() {
    using geom::Vec3;
    const Vec3 a{1, 0, 0};
    const Vec3 b{0, 1, 0};
    assert(near(a.dot(b), 0.0));
    const Vec3 c = a.cross(b);
    assert(near(c.z, 1.0) && near(c.x, 0.0) && near(c.y, 0.0));
    assert(near(Vec3(3, 4, 0).length(), 5.0));
    assert(near(Vec3(0, 0, 2).normalized().z, 1.0));
    std::cout << "vec3 ok: " << c << '\n';
    return 0;
}
