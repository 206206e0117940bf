# Packaging.cmake - `cpack -G DEB`: one Debian package, addcow-img, with
# everything `cmake --install` installs (programs, library, header,
# pkg-config file, man pages, nbdkit plugin, bash completion).
#
# Build it from a tree configured for the system prefix, so that the plugin
# and the completion land where nbdkit and bash-completion look:
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr -DADDCOW_TESTS=OFF
#   cmake --build build-deb && (cd build-deb && cpack -G DEB)
# Its Depends come from dpkg-shlibdeps (dpkg-dev), run on every ELF file.

set(CPACK_PACKAGE_NAME addcow-img)
set(CPACK_PACKAGE_VENDOR "addcow-img")
set(CPACK_PACKAGE_CONTACT "addcow-img maintainers <addcow-img@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "tools and library for add-cow disk images")
set(CPACK_PACKAGE_DESCRIPTION
  "addcow-img creates, inspects, checks, commits and flattens add-cow disk
images (a raw image file with a cluster bitmap over a backing file), with
qemu-img's command line; addcow-io writes and reads them qemu-io style; an
nbdkit plugin serves them over NBD; libaddcow is the C library under them.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_GENERATOR DEB)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)      # addcow-img_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libaddcow.so.0 is in the package itself: dpkg-shlibdeps finds it here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nbdkit")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "qemu-utils, bash-completion")

include(CPack)
