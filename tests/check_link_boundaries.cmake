# The test link_boundaries (declared in link_boundaries.cmake): fails when
# cjxctl, the client library or the delivery worker reaches the server
# side, the services, a store backend, SQLite or libpq.
# Run as: cmake -DCLOSURES=... -DNM=... -DREADELF=... -DCJXCTL=...
#               -DDELIVERY_LIB=... -DCLIENT_LIB=... -P check_link_boundaries.cmake
cmake_minimum_required(VERSION 3.25)
include(${CLOSURES})

set(failures 0)
macro(refuse what)
    message(SEND_ERROR "${what}")
    math(EXPR failures "${failures} + 1")
endmacro()

# The links CMake gives each target, followed transitively. A library file
# path counts as well as a target name, so a database client linked by
# path is caught too.
foreach(target cjxctl cjx_client cjx_codec cjx_delivery)
    if(NOT DEFINED CLOSURE_${target})
        refuse("${target}: no link closure was recorded")
    endif()
    foreach(lib IN LISTS CLOSURE_${target})
        if(lib IN_LIST FORBIDDEN_TARGETS OR lib MATCHES "libsqlite3|libpq\\.")
            refuse("${target} links ${lib}")
        endif()
    endforeach()
endforeach()

# The symbols the built artifacts define or need: no SQLite or libpq call,
# no store backend, no service, no server. A store reached through the
# contract leaves no cjx_store_ symbol (its dispatch is inline); only the
# backends' functions (cjx_store_sqlite_open...) have names there.
set(symbol_pattern
    " (sqlite3_[a-z_0-9]+|PQ[a-zA-Z]+|cjx_store_sqlite_[a-z_]+|cjx_store_pg_[a-z_]+|cjx_service_[a-z_]+|cjx_rpc_server_[a-z_]+)$")
foreach(artifact ${CJXCTL} ${CLIENT_LIB} ${DELIVERY_LIB})
    execute_process(COMMAND ${NM} ${artifact} OUTPUT_VARIABLE symbols
                    RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0 OR symbols STREQUAL "")
        refuse("${NM} ${artifact} failed (${rc})")
        continue()
    endif()
    string(REPLACE "\n" ";" lines "${symbols}")
    set(found)
    foreach(line IN LISTS lines)
        if(line MATCHES "${symbol_pattern}")
            list(APPEND found ${CMAKE_MATCH_1})
        endif()
    endforeach()
    if(found)
        list(REMOVE_DUPLICATES found)
        list(JOIN found " " found)
        refuse("${artifact} defines or calls: ${found}")
    endif()
endforeach()

# The shared libraries cjxctl asks the dynamic linker for.
execute_process(COMMAND ${READELF} -d ${CJXCTL} OUTPUT_VARIABLE dynamic
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT dynamic MATCHES "NEEDED")
    refuse("${READELF} -d ${CJXCTL} failed (${rc})")
elseif(dynamic MATCHES "\\[(libsqlite3[^]]*|libpq[^]]*)\\]")
    refuse("${CJXCTL} needs ${CMAKE_MATCH_1}")
endif()

if(failures GREATER 0)
    message(FATAL_ERROR "${failures} link boundary violation(s): see docs/architecture.md")
endif()
message(STATUS "cjxctl, cjx_client and cjx_delivery stay on the client side")
