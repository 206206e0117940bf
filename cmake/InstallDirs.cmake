# InstallDirs.cmake - where `cmake --install` puts what is not a plain
# program, library, header or man page, and how installed programs find
# libaddcow.  Every destination is relative to CMAKE_INSTALL_PREFIX unless
# the prefix is /usr (the system's own, as a Debian package installs), so
# that --prefix and DESTDIR hold for every file.

# The system prefix: the files go where the system's tools look for them.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(ADDCOW_SYSTEM_PREFIX ON)
else()
  set(ADDCOW_SYSTEM_PREFIX OFF)
endif()

# The nbdkit plugin.  Under /usr: nbdkit's plugin directory, so that
# `nbdkit addcow` finds it by name.  Elsewhere: PREFIX/LIBDIR/nbdkit/plugins,
# and nbdkit is given the plugin's path (`nbdkit PATH/nbdkit-addcow-plugin.so
# ...`).  ADDCOW_NBDKIT_PLUGINDIR overrides both (setup.sh demo points it at
# nbdkit's directory while installing to /usr/local).
set(ADDCOW_NBDKIT_PLUGINDIR "" CACHE PATH
  "Where to install nbdkit-addcow-plugin.so (default: see cmake/InstallDirs.cmake)")
if(ADDCOW_NBDKIT_PLUGINDIR)
  set(ADDCOW_INSTALL_PLUGINDIR ${ADDCOW_NBDKIT_PLUGINDIR})
else()
  set(ADDCOW_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/nbdkit/plugins)
  if(ADDCOW_SYSTEM_PREFIX)
    pkg_get_variable(_nbdkit_plugindir nbdkit plugindir)
    if(_nbdkit_plugindir)
      set(ADDCOW_INSTALL_PLUGINDIR ${_nbdkit_plugindir})
    endif()
  endif()
endif()

# Bash completion: bash-completion's own directory under /usr, else
# PREFIX/share/bash-completion/completions (which bash-completion also reads
# for /usr/local, through XDG_DATA_DIRS).
set(ADDCOW_INSTALL_COMPLETIONSDIR
  ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
if(ADDCOW_SYSTEM_PREFIX)
  pkg_get_variable(_bash_completionsdir bash-completion completionsdir)
  if(_bash_completionsdir)
    set(ADDCOW_INSTALL_COMPLETIONSDIR ${_bash_completionsdir})
  endif()
endif()

# Installed programs find libaddcow.so.0 relative to themselves when the
# library directory is not one the dynamic linker searches anyway
# ($ORIGIN/../lib under any prefix or DESTDIR); under /usr, no RPATH.
file(RELATIVE_PATH _bin_to_lib
  ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}
  ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR})
list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES
  ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR} _implicit)
if(_implicit EQUAL -1 AND NOT ADDCOW_SYSTEM_PREFIX)
  set(CMAKE_INSTALL_RPATH "$ORIGIN/${_bin_to_lib}")
endif()
