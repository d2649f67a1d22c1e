# Generates concur.pc from cmake/concur.pc.in. The prefix is written relative
# to the .pc file's own directory (${pcfiledir}), so the installed file stays
# right for any `cmake --install --prefix` and if the tree is moved; an
# absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR is written as it is.
#   CC_PC_REQUIRES_PRIVATE  pkg-config modules the static library needs
#   CC_PC_LIBS_PRIVATE      plain linker flags the static library needs
#   CC_PC_CFLAGS            compile flags every user gets (as concur::concur's
#                           INTERFACE options)
set(CC_PC_CFLAGS -fstack-clash-protection)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(CC_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(CC_PC_LIBDIR_FULL "${CMAKE_INSTALL_LIBDIR}")
else()
  # <prefix>/<libdir>/pkgconfig -> one ".." per component of libdir, plus one.
  string(REGEX REPLACE "[^/]+" ".." up "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  set(CC_PC_PREFIX "\${pcfiledir}/${up}")
  set(CC_PC_LIBDIR_FULL "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
set(CC_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(CC_PC_INCLUDEDIR_FULL "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(CC_PC_INCLUDEDIR_FULL "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
list(REMOVE_DUPLICATES CC_PC_REQUIRES_PRIVATE)
list(JOIN CC_PC_REQUIRES_PRIVATE " " CC_PC_REQUIRES_PRIVATE)
list(JOIN CC_PC_LIBS_PRIVATE " " CC_PC_LIBS_PRIVATE)
list(JOIN CC_PC_CFLAGS " " CC_PC_CFLAGS)
configure_file(${CMAKE_CURRENT_LIST_DIR}/concur.pc.in ${PROJECT_BINARY_DIR}/concur.pc @ONLY)
