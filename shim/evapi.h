/*
 * evapi.h — libevent, as the live endpoint uses it, loaded at run time.
 *
 * libevent is opened with dlopen only when MAPPROF_HTTP asks for a server
 * (shim_ev_load): linked in, its two libraries would be mapped and
 * relocated in every preloaded process (~400,000 instructions each, a
 * fifth of what the shim's own start costs), endpoint or not. A host that
 * links libevent itself shares the same instance (same soname).
 * Files that call libevent include this header last: each function name
 * then stands for the pointer loaded into shim_ev.
 */
#ifndef SHIM_EVAPI_H
#define SHIM_EVAPI_H

#include <stdbool.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

/* libevent_core's functions, then libevent_extra's (evhttp). */
#define SHIM_EV_CORE(X)                                                                            \
    X(bufferevent_decref)                                                                          \
    X(bufferevent_getfd)                                                                           \
    X(bufferevent_incref)                                                                          \
    X(bufferevent_socket_new)                                                                      \
    X(evbuffer_add)                                                                                \
    X(evbuffer_add_printf)                                                                         \
    X(evbuffer_free)                                                                               \
    X(evbuffer_get_length)                                                                         \
    X(evbuffer_new)                                                                                \
    X(evbuffer_pullup)                                                                             \
    X(evbuffer_remove)                                                                             \
    X(evbuffer_remove_buffer)                                                                      \
    X(evconnlistener_disable)                                                                      \
    X(evconnlistener_enable)                                                                       \
    X(evconnlistener_get_base)                                                                     \
    X(evconnlistener_new)                                                                          \
    X(evconnlistener_set_error_cb)                                                                 \
    X(event_active)                                                                                \
    X(event_add)                                                                                   \
    X(event_base_dispatch)                                                                         \
    X(event_base_loopbreak)                                                                        \
    X(event_base_new_with_config)                                                                  \
    X(event_base_once)                                                                             \
    X(event_config_avoid_method)                                                                   \
    X(event_config_free)                                                                           \
    X(event_config_new)                                                                            \
    X(event_config_set_flag)                                                                       \
    X(event_new)

#define SHIM_EV_EXTRA(X)                                                                           \
    X(evhttp_add_header)                                                                           \
    X(evhttp_bind_listener)                                                                        \
    X(evhttp_clear_headers)                                                                        \
    X(evhttp_connection_get_bufferevent)                                                           \
    X(evhttp_find_header)                                                                          \
    X(evhttp_new)                                                                                  \
    X(evhttp_parse_query_str)                                                                      \
    X(evhttp_request_get_command)                                                                  \
    X(evhttp_request_get_connection)                                                               \
    X(evhttp_request_get_evhttp_uri)                                                               \
    X(evhttp_request_get_input_buffer)                                                             \
    X(evhttp_request_get_output_headers)                                                           \
    X(evhttp_send_reply)                                                                           \
    X(evhttp_set_allowed_methods)                                                                  \
    X(evhttp_set_bevcb)                                                                            \
    X(evhttp_set_gencb)                                                                            \
    X(evhttp_set_max_body_size)                                                                    \
    X(evhttp_set_max_headers_size)                                                                 \
    X(evhttp_set_timeout)                                                                          \
    X(evhttp_uri_get_path)                                                                         \
    X(evhttp_uri_get_query)

#define SHIM_EV_MEMBER(f) __typeof__(f) *f;
typedef struct shim_ev_fns {
    SHIM_EV_CORE(SHIM_EV_MEMBER)
    SHIM_EV_EXTRA(SHIM_EV_MEMBER)
} shim_ev_fns;
#undef SHIM_EV_MEMBER

extern shim_ev_fns shim_ev;

/* Open libevent and fill shim_ev (once; guard set). false: said why on
 * stderr; there is no endpoint. */
bool shim_ev_load(void);

#ifndef SHIM_EVAPI_LOADER
#define bufferevent_decref                shim_ev.bufferevent_decref
#define bufferevent_getfd                 shim_ev.bufferevent_getfd
#define bufferevent_incref                shim_ev.bufferevent_incref
#define bufferevent_socket_new            shim_ev.bufferevent_socket_new
#define evbuffer_add                      shim_ev.evbuffer_add
#define evbuffer_add_printf               shim_ev.evbuffer_add_printf
#define evbuffer_free                     shim_ev.evbuffer_free
#define evbuffer_get_length               shim_ev.evbuffer_get_length
#define evbuffer_new                      shim_ev.evbuffer_new
#define evbuffer_pullup                   shim_ev.evbuffer_pullup
#define evbuffer_remove                   shim_ev.evbuffer_remove
#define evbuffer_remove_buffer            shim_ev.evbuffer_remove_buffer
#define evconnlistener_disable            shim_ev.evconnlistener_disable
#define evconnlistener_enable             shim_ev.evconnlistener_enable
#define evconnlistener_get_base           shim_ev.evconnlistener_get_base
#define evconnlistener_new                shim_ev.evconnlistener_new
#define evconnlistener_set_error_cb       shim_ev.evconnlistener_set_error_cb
#define event_active                      shim_ev.event_active
#define event_add                         shim_ev.event_add
#define event_base_dispatch               shim_ev.event_base_dispatch
#define event_base_loopbreak              shim_ev.event_base_loopbreak
#define event_base_new_with_config        shim_ev.event_base_new_with_config
#define event_base_once                   shim_ev.event_base_once
#define event_config_avoid_method         shim_ev.event_config_avoid_method
#define event_config_free                 shim_ev.event_config_free
#define event_config_new                  shim_ev.event_config_new
#define event_config_set_flag             shim_ev.event_config_set_flag
#define event_new                         shim_ev.event_new
#define evhttp_add_header                 shim_ev.evhttp_add_header
#define evhttp_bind_listener              shim_ev.evhttp_bind_listener
#define evhttp_clear_headers              shim_ev.evhttp_clear_headers
#define evhttp_connection_get_bufferevent shim_ev.evhttp_connection_get_bufferevent
#define evhttp_find_header                shim_ev.evhttp_find_header
#define evhttp_new                        shim_ev.evhttp_new
#define evhttp_parse_query_str            shim_ev.evhttp_parse_query_str
#define evhttp_request_get_command        shim_ev.evhttp_request_get_command
#define evhttp_request_get_connection     shim_ev.evhttp_request_get_connection
#define evhttp_request_get_evhttp_uri     shim_ev.evhttp_request_get_evhttp_uri
#define evhttp_request_get_input_buffer   shim_ev.evhttp_request_get_input_buffer
#define evhttp_request_get_output_headers shim_ev.evhttp_request_get_output_headers
#define evhttp_send_reply                 shim_ev.evhttp_send_reply
#define evhttp_set_allowed_methods        shim_ev.evhttp_set_allowed_methods
#define evhttp_set_bevcb                  shim_ev.evhttp_set_bevcb
#define evhttp_set_gencb                  shim_ev.evhttp_set_gencb
#define evhttp_set_max_body_size          shim_ev.evhttp_set_max_body_size
#define evhttp_set_max_headers_size       shim_ev.evhttp_set_max_headers_size
#define evhttp_set_timeout                shim_ev.evhttp_set_timeout
#define evhttp_uri_get_path               shim_ev.evhttp_uri_get_path
#define evhttp_uri_get_query              shim_ev.evhttp_uri_get_query
#endif

#endif
